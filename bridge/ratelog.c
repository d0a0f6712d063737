/* ratelog.c: rate-limited log lines for per-message problems (bad input,
 * full queues), so a flood of garbage produces one line per 10 s. */
#include <stdarg.h>
#include <stdio.h>

#include "bridge.h"
#include "log.h"
#include "util.h"

#define RATELOG_INTERVAL_MS 10000

void swb_bridge_ratelog_emit(swb_bridge_ratelog *rl, int level, const char *fmt, ...)
{
	uint64_t now = swb_mono_ms();
	if (rl->last_ms && now - rl->last_ms < RATELOG_INTERVAL_MS) {
		rl->suppressed++;
		return;
	}
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rl->suppressed)
		swb_log(level, "%s (%llu similar suppressed)", msg, (unsigned long long)rl->suppressed);
	else
		swb_log(level, "%s", msg);
	rl->last_ms = now;
	rl->suppressed = 0;
}
