/* bench_seq.c: sliding-window duplicate detection (see bench_seq.h). */
#include "bench_seq.h"

int swb_seqwin_see(swb_seqwin *w, uint32_t seq)
{
	if (seq < w->base)
		return SWB_SEQ_OLD;
	uint32_t off = seq - w->base;
	if (off >= 64) {
		uint32_t shift = off - 63;
		w->win = shift >= 64 ? 0 : w->win >> shift;
		w->base += shift;
		off = 63;
	}
	uint64_t bit = 1ull << off;
	if (w->win & bit)
		return SWB_SEQ_DUP;
	w->win |= bit;
	while (w->win & 1) { /* slide over the contiguous prefix */
		w->win >>= 1;
		w->base++;
	}
	return SWB_SEQ_NEW;
}
