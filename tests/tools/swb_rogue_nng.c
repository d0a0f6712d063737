/* swb_rogue_nng.c: a rogue local process for the rogue-input integration
 * tests (tests/integration/rogue_input.test.js): Node has no NNG, so this
 * speaks it for them.
 *
 *   swb-rogue-nng pair URL HEX...   dial URL with pair1, send each message
 *                                   (hex; "big:N" = N bytes of 0xff;
 *                                   "file:PATH" = the file's bytes), wait
 *                                   for the sends to go out, exit 0
 *   swb-rogue-nng req URL HEX       dial URL with req0, send one request,
 *                                   print the reply (text) or "NO-REPLY"
 *                                   after 3 s, exit 0
 * Exit 1 on a usage or NNG error (message on stderr), 3 when a step
 * hangs (SWB_ROGUE_DEADLINE_S, 15 s: the callers' own timeout is 20 s, so
 * the step that hung is named instead of the tool being killed silently).
 * A hang in the final nng_close() after the result is printed is reported
 * on stderr and does not change the exit status: it is nng 1.5.2's own
 * teardown (seen once in CI after the bridge dropped an over-limit request
 * mid-send), not the peer's behaviour the tests are about. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "crypto.h"

/* Decode arg into a new buffer (*len bytes); NULL on a bad argument. */
static unsigned char *decode(const char *arg, size_t *len)
{
	if (!strncmp(arg, "big:", 4)) {
		*len = strtoul(arg + 4, NULL, 10);
		unsigned char *b = malloc(*len ? *len : 1);
		if (b)
			memset(b, 0xff, *len);
		return b;
	}
	if (!strncmp(arg, "file:", 5)) {
		FILE *f = fopen(arg + 5, "rb");
		unsigned char *b = NULL;
		long sz;
		if (f && fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
		    (b = malloc((size_t)sz + 1)) && fread(b, 1, (size_t)sz, f) == (size_t)sz) {
			*len = (size_t)sz;
		} else {
			free(b);
			b = NULL;
		}
		if (f)
			fclose(f);
		return b;
	}
	size_t n = strlen(arg);
	if (n % 2)
		return NULL;
	unsigned char *b = malloc(n / 2 + 1);
	for (size_t i = 0; b && i < n / 2; i++) {
		int hi = swb_hex_digit(arg[2 * i]), lo = swb_hex_digit(arg[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(b);
			return NULL;
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return b;
}

static const char *volatile phase = "start";
static volatile sig_atomic_t result = -1; /* exit status once known */

static void on_alarm(int sig)
{
	(void)sig;
	char msg[128];
	int n = snprintf(msg, sizeof(msg), "swb-rogue-nng: stuck in %s\n", phase);
	if (n > 0)
		(void)!write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	_exit(result >= 0 ? result : 3);
}

static int fail(const char *what, int rv)
{
	fprintf(stderr, "swb-rogue-nng: %s: %s\n", what, nng_strerror(rv));
	return 1;
}

static int send_all(nng_socket s, char **args, int n, int reply)
{
	for (int i = 0; i < n; i++) {
		size_t len;
		unsigned char *b = decode(args[i], &len);
		if (!b) {
			fprintf(stderr, "swb-rogue-nng: bad message argument %s\n", args[i]);
			return 1;
		}
		phase = "send";
		int rv = nng_send(s, b, len, 0);
		free(b);
		if (rv != 0)
			return fail("send", rv);
	}
	if (!reply)
		return 0;
	char *buf = NULL;
	size_t sz = 0;
	phase = "recv";
	int rv = nng_recv(s, &buf, &sz, NNG_FLAG_ALLOC);
	if (rv == NNG_ETIMEDOUT) {
		printf("NO-REPLY\n");
		return 0;
	}
	if (rv != 0)
		return fail("recv", rv);
	printf("%.*s\n", (int)sz, buf);
	nng_free(buf, sz);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "pair") && strcmp(argv[1], "req"))) {
		fprintf(stderr, "usage: swb-rogue-nng pair|req URL HEX...\n");
		return 1;
	}
	int req = !strcmp(argv[1], "req");
	const char *dl = getenv("SWB_ROGUE_DEADLINE_S");
	signal(SIGALRM, on_alarm);
	alarm(dl && atoi(dl) > 0 ? (unsigned)atoi(dl) : 15);
	nng_socket s;
	int rv = req ? nng_req0_open(&s) : nng_pair1_open(&s);
	if (rv != 0)
		return fail("open", rv);
	nng_setopt_ms(s, NNG_OPT_SENDTIMEO, 3000);
	nng_setopt_ms(s, NNG_OPT_RECVTIMEO, 3000);
	nng_setopt_size(s, NNG_OPT_RECVMAXSZ, 0);
	/* One connection only: when the peer drops the pipe (an over-limit
	 * message), req0 would otherwise redial every 100 ms and resend. */
	nng_setopt_ms(s, NNG_OPT_RECONNMINT, 60000);
	nng_setopt_ms(s, NNG_OPT_RECONNMAXT, 60000);
	phase = "dial";
	if ((rv = nng_dial(s, argv[2], NULL, 0)) != 0)
		return fail("dial", rv);
	int rc = send_all(s, argv + 3, argc - 3, req);
	fflush(stdout);
	if (!req) {
		phase = "flush";
		nng_msleep(200); /* let the pipe flush before close: NNG has no linger */
	}
	result = rc;
	phase = "close";
	nng_close(s);
	nng_fini();
	return rc;
}
