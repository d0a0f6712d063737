/* bench_proc.c: what swb-bench reads about other processes: CPU seconds
 * (utime+stime of /proc/PID/stat), VmRSS and VmHWM (/proc/PID/status), the
 * kernel's TCP socket memory (/proc/net/sockstat), and the pids of one
 * Switchboard host (bridge + edges) from `swbctl --json status`. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench.h"

double bench_proc_cpu(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* after ") ": state(3) ... utime(14) stime(15) */
	unsigned long long ut = 0, st = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int bench_proc_mem(int pid, long *rss_kb, long *hwm_kb)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	*rss_kb = *hwm_kb = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			*rss_kb = strtol(line + 6, NULL, 10);
		else if (!strncmp(line, "VmHWM:", 6))
			*hwm_kb = strtol(line + 6, NULL, 10);
	}
	fclose(f);
	return 0;
}

void bench_proc_name(int pid, char *out, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	FILE *f = fopen(path, "r");
	out[0] = '\0';
	if (!f)
		return;
	if (fgets(out, (int)cap, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

void bench_kernel_tcp(bench_ktcp *k)
{
	k->inuse = k->buf_kb = k->slab_kb = -1;
	FILE *f = fopen("/proc/net/sockstat", "r");
	char line[512];
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "TCP:", 4) != 0)
				continue;
			const char *m = strstr(line, " mem "), *u = strstr(line, " inuse ");
			if (m)
				k->buf_kb = strtol(m + 5, NULL, 10) * (sysconf(_SC_PAGESIZE) / 1024);
			if (u)
				k->inuse = strtol(u + 7, NULL, 10);
		}
		fclose(f);
	}
	/* socket objects themselves (root only): TCP and TCPv6 slabs */
	f = fopen("/proc/slabinfo", "r");
	if (f) {
		long bytes = 0;
		bool seen = false;
		while (fgets(line, sizeof(line), f)) {
			char name[64];
			long active, total, size;
			if (sscanf(line, "%63s %ld %ld %ld", name, &active, &total, &size) == 4 &&
			    (!strcmp(name, "TCP") || !strcmp(name, "TCPv6"))) {
				bytes += total * size;
				seen = true;
			}
		}
		fclose(f);
		if (seen)
			k->slab_kb = bytes / 1024;
	}
}

/* Run swbctl and collect its stdout (bounded). */
static char *run_swbctl(const char *swbctl, const char *dir)
{
	int fds[2];
	if (pipe(fds) < 0)
		return NULL;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(swbctl, swbctl, "--runtime-dir", dir, "--json", "--timeout", "3000", "status", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	ssize_t r;
	while (out && (r = read(fds[0], out + len, cap - 1 - len)) > 0) {
		len += (size_t)r;
		if (len == cap - 1) {
			char *o = realloc(out, cap * 2);
			if (!o) {
				free(out);
				out = NULL;
				break;
			}
			out = o;
			cap *= 2;
		}
	}
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	if (out)
		out[len] = '\0';
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

int bench_pids_from_runtime_dir(const char *swbctl, const char *dir, int *pids, int max)
{
	char *txt = run_swbctl(swbctl, dir);
	if (!txt) {
		fprintf(stderr, "swb-bench: '%s --runtime-dir %s --json status' failed\n", swbctl, dir);
		return -1;
	}
	cJSON *o = cJSON_Parse(txt);
	free(txt);
	int n = 0;
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(o, "pid");
	if (cJSON_IsNumber(pid) && n < max)
		pids[n++] = pid->valueint;
	const cJSON *e, *edges = cJSON_GetObjectItemCaseSensitive(o, "edges");
	cJSON_ArrayForEach (e, edges) {
		const cJSON *ep = cJSON_GetObjectItemCaseSensitive(e, "pid");
		if (cJSON_IsNumber(ep) && n < max)
			pids[n++] = ep->valueint;
	}
	cJSON_Delete(o);
	if (n == 0) {
		fprintf(stderr, "swb-bench: no pids in the status of the bridge in %s\n", dir);
		return -1;
	}
	return n;
}
