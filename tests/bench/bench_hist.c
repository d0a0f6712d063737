/* bench_hist.c: log-linear histogram (see bench_hist.h). */
#include "bench_hist.h"

#include <string.h>

#define VMAX ((1ull << (SWB_HIST_MAX_SHIFT + SWB_HIST_SUB_BITS)) - 1)

void swb_hist_init(swb_hist *h)
{
	memset(h, 0, sizeof(*h));
}

uint32_t swb_hist_index(uint64_t v)
{
	if (v < (1u << SWB_HIST_SUB_BITS))
		return (uint32_t)v;
	if (v > VMAX)
		v = VMAX;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - (SWB_HIST_SUB_BITS - 1);
	/* v >> shift is in [HALF, 2*HALF) */
	return shift * SWB_HIST_HALF + (uint32_t)(v >> shift);
}

uint64_t swb_hist_bucket_high(uint32_t idx)
{
	if (idx < (1u << SWB_HIST_SUB_BITS))
		return idx;
	unsigned shift = idx / SWB_HIST_HALF - 1;
	uint64_t m = idx % SWB_HIST_HALF + SWB_HIST_HALF;
	return ((m + 1) << shift) - 1;
}

void swb_hist_add(swb_hist *h, uint64_t v)
{
	if (v > VMAX)
		h->clamped++;
	h->counts[swb_hist_index(v)]++;
	if (h->n == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->n++;
	h->sum += (double)v;
}

void swb_hist_merge(swb_hist *h, const swb_hist *o)
{
	if (o->n == 0)
		return;
	if (h->n == 0 || o->min < h->min)
		h->min = o->min;
	if (o->max > h->max)
		h->max = o->max;
	h->n += o->n;
	h->sum += o->sum;
	h->clamped += o->clamped;
	for (uint32_t i = 0; i < SWB_HIST_BUCKETS; i++)
		h->counts[i] += o->counts[i];
}

uint64_t swb_hist_quantile(const swb_hist *h, double q)
{
	if (h->n == 0)
		return 0;
	if (q <= 0)
		return h->min;
	if (q > 1)
		q = 1;
	uint64_t target = (uint64_t)(q * (double)h->n + 0.999999999);
	if (target < 1)
		target = 1;
	if (target > h->n)
		target = h->n;
	uint64_t c = 0;
	for (uint32_t i = 0; i < SWB_HIST_BUCKETS; i++) {
		c += h->counts[i];
		if (c >= target) {
			uint64_t v = swb_hist_bucket_high(i);
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double swb_hist_mean(const swb_hist *h)
{
	return h->n ? h->sum / (double)h->n : 0;
}
