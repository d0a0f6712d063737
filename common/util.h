/* util.h: clocks and small helpers shared by both daemons. */
#ifndef SWB_UTIL_H
#define SWB_UTIL_H

#include <stdint.h>

#define SWB_PROTO_VERSION 2
#define SWB_DEFAULT_RUNTIME_DIR "/run/switchboard"

/* Monotonic milliseconds. */
uint64_t swb_mono_ms(void);
/* Monotonic microseconds. */
uint64_t swb_mono_us(void);
/* Wall-clock microseconds since the epoch. */
uint64_t swb_wall_us(void);
/* Wall-clock seconds since the epoch. */
int64_t swb_wall_s(void);
/* Create dir (and parents) with mode if missing. Returns 0 or -1 (errno). */
int swb_mkdir_p(const char *dir, unsigned mode);

#endif
