/* bench_hist.h: a log-linear latency histogram in the spirit of
 * HdrHistogram. Values (nanoseconds) below 2^SUB_BITS are counted exactly;
 * above that each power-of-two range is split into 2^(SUB_BITS-1) equal
 * buckets, so a bucket is never wider than 1/128 (0.8 %) of its values.
 * Fixed size (no allocation), mergeable by adding counts, so workers can
 * ship theirs to the parent as plain bytes. */
#ifndef SWB_BENCH_HIST_H
#define SWB_BENCH_HIST_H

#include <stdint.h>

#define SWB_HIST_SUB_BITS 8
#define SWB_HIST_HALF (1u << (SWB_HIST_SUB_BITS - 1))
#define SWB_HIST_MAX_SHIFT 34 /* values are clamped below 2^(34+8) ns = ~73 min */
#define SWB_HIST_BUCKETS ((SWB_HIST_MAX_SHIFT + 2) * SWB_HIST_HALF)

typedef struct swb_hist {
	uint64_t n;
	uint64_t min, max; /* exact, ns */
	double sum;        /* ns, for the mean */
	uint64_t clamped;  /* values that were above the range (counted in the last bucket) */
	uint64_t counts[SWB_HIST_BUCKETS];
} swb_hist;

void swb_hist_init(swb_hist *h);
void swb_hist_add(swb_hist *h, uint64_t v);
/* h += o */
void swb_hist_merge(swb_hist *h, const swb_hist *o);
/* The value at quantile q (0..1): the highest value equivalent to the bucket
 * holding the ceil(q*n)-th smallest value, never above max. 0 when empty. */
uint64_t swb_hist_quantile(const swb_hist *h, double q);
double swb_hist_mean(const swb_hist *h);

/* exposed for tests */
uint32_t swb_hist_index(uint64_t v);
uint64_t swb_hist_bucket_high(uint32_t idx);

#endif
