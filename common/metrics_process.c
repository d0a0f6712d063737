/* metrics_process.c: process CPU time, resident memory, open file
 * descriptors and start time as swb_process_* metrics (Linux: getrusage,
 * /proc/self/statm, /proc/self/fd). */
#include "metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

void swb_metrics_process_init(swb_metrics_process *p, swb_metrics *r)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	p->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	p->cpu = swb_metrics_counter(r, "swb_process_cpu_seconds_total", "User and system CPU time spent, seconds");
	p->rss = swb_metrics_gauge(r, "swb_process_resident_memory_bytes", "Resident memory size, bytes");
	p->fds = swb_metrics_gauge(r, "swb_process_open_fds", "Open file descriptors");
	p->start = swb_metrics_gauge(r, "swb_process_start_time_seconds",
				     "Start time of the process since the epoch, seconds");
}

static double rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (double)res * (double)sysconf(_SC_PAGESIZE);
}

static double open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	double n = 0;
	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n > 3 ? n - 3 : 0; /* ".", ".." and the DIR's own fd */
}

void swb_metrics_process_update(swb_metrics_process *p)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		swb_metric_set(p->cpu, NULL,
			       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
				       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	swb_metric_set(p->rss, NULL, rss_bytes());
	swb_metric_set(p->fds, NULL, open_fds());
	swb_metric_set(p->start, NULL, p->start_time);
}
