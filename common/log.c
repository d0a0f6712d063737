/* log.c: the shared logger. Writes whole lines with one write(2) so lines of
 * concurrent processes sharing a terminal or file never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "swb";
static int log_level = SWB_LOG_INFO;
static int log_json;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void swb_log_init(const char *prog) { log_prog = prog; }

int swb_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void swb_log_set_level(int level) { log_level = level; }
int swb_log_get_level(void) { return log_level; }
const char *swb_log_level_name(int level) { return level >= 0 && level < 4 ? level_names[level] : "?"; }

int swb_log_set_format(const char *fmt)
{
	if (strcmp(fmt, "text") == 0)
		log_json = 0;
	else if (strcmp(fmt, "json") == 0)
		log_json = 1;
	else
		return -1;
	return 0;
}

/* Escape msg into out as the body of a JSON string. */
static size_t json_escape(char *out, size_t cap, const char *msg)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)msg; *p && o + 7 < cap; p++) {
		if (*p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", *p);
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return o;
}

void swb_log(int level, const char *fmt, ...)
{
	if (level > log_level)
		return;
	char msg[2048], line[4608], ts[40];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

	int len;
	if (log_json) {
		char esc[4200];
		json_escape(esc, sizeof(esc), msg);
		len = snprintf(line, sizeof(line),
			       "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":\"%s\",\"pid\":%d,\"msg\":\"%s\"}\n",
			       ts, level_names[level], log_prog, (int)getpid(), esc);
	} else {
		len = snprintf(line, sizeof(line), "%s %-5s %s[%d]: %s\n", ts, level_names[level], log_prog,
			       (int)getpid(), msg);
	}
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line))
		len = (int)sizeof(line) - 1;
	ssize_t w = write(STDERR_FILENO, line, (size_t)len);
	(void)w;
}
