/* bench_seq.h: per-subscriber duplicate detection over a sliding window.
 * Each subscriber sees the per-channel sequence numbers 0, 1, 2, ... of
 * the publishes to its channel, possibly slightly out of order (several
 * HTTP connections publish in parallel). The window remembers which of the
 * 64 numbers from `base` were seen; numbers below base are resolved. */
#ifndef SWB_BENCH_SEQ_H
#define SWB_BENCH_SEQ_H

#include <stdint.h>

typedef struct swb_seqwin {
	uint32_t base; /* every seq < base is resolved (seen, or given up on) */
	uint64_t win;  /* bit i: base + i was seen */
} swb_seqwin;

enum { SWB_SEQ_NEW = 1, SWB_SEQ_DUP = 0, SWB_SEQ_OLD = -1 };

/* Record seq. SWB_SEQ_NEW the first time; SWB_SEQ_DUP when seen already;
 * SWB_SEQ_OLD when it is below the window (a duplicate, or a delivery more
 * than 64 behind the newest: callers count both as duplicates). */
int swb_seqwin_see(swb_seqwin *w, uint32_t seq);

#endif
