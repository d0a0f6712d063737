/* test_common_config.c: the config file (common/config.c) and its place
 * in the option precedence (common/opts.c): flag > env > file > default,
 * repeatable keys, [program] sections, errors naming file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "opts.h"

static char path[64];

static void write_file(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/swb-config-test-%d.conf", (int)getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

typedef struct seen {
	char keys[512];
} seen;

static int collect(void *ctx, int line, const char *key, const char *value, char *err, size_t errlen)
{
	seen *s = ctx;
	if (!strcmp(key, "bad")) {
		snprintf(err, errlen, "line %d: bad key", line);
		return -1;
	}
	size_t n = strlen(s->keys);
	snprintf(s->keys + n, sizeof(s->keys) - n, "%d:%s=%s;", line, key, value);
	return 0;
}

static void test_reader(void **state)
{
	(void)state;
	char err[256];
	seen s = { "" };
	write_file("# comment\n; comment too\n\nlisten = 127.0.0.1:1\napp = a:b:c;not#a comment\n"
		   "[swb-bridge]\nredis = none\n[swb-edge]\napp = d:e:f\n");
	assert_int_equal(swb_config_read(path, "swb-edge", collect, &s, err, sizeof(err)), 0);
	assert_string_equal(s.keys, "4:listen=127.0.0.1:1;5:app=a:b:c;not#a comment;9:app=d:e:f;");

	write_file("listen = x\nno equals sign here\n");
	assert_int_equal(swb_config_read(path, "swb-edge", collect, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: syntax error"));
	assert_non_null(strstr(err, path));

	write_file("ok = 1\nbad = 2\n");
	assert_int_equal(swb_config_read(path, "swb-edge", collect, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "line 2: bad key");

	unlink(path);
	assert_int_equal(swb_config_read(path, "swb-edge", collect, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot read config file"));
}

static void test_precedence(void **state)
{
	(void)state;
	const char *dir = "/default", *cfg = NULL, *level = "info";
	long n = 5;
	swb_strlist apps = { 0 };
	swb_opt opts[] = {
		{ "config", "SWB_T_CONFIG", SWB_OPT_CONFIG, "FILE", "config", &cfg, 0, 0 },
		{ "runtime-dir", "SWB_T_DIR", SWB_OPT_STR, "DIR", "dir", &dir, 0, 0 },
		{ "count", "SWB_T_COUNT", SWB_OPT_INT, "N", "count", &n, 1, 10 },
		{ "log-level", "SWB_T_LEVEL", SWB_OPT_STR, "L", "level", &level, 0, 0 },
		{ "app", "SWB_T_APPS", SWB_OPT_LIST, "ID:KEY:SECRET", "app", &apps, 0, 0 },
		{ NULL, NULL, 0, NULL, NULL, NULL, 0, 0 },
	};
	swb_opts_spec spec = { "t", "[options]", "test", NULL, opts, false };
	write_file("runtime-dir = /file\ncount = 8\nlog-level = debug\napp = a:b:c\napp = d:e:f\n");
	setenv("SWB_T_COUNT", "7", 1);
	setenv("SWB_T_DIR", "/env", 1);
	char *argv[] = { "t", "--config", path, "--runtime-dir", "/flag", NULL };
	swb_opts_parse(&spec, 5, argv);
	const char *where;
	assert_string_equal(dir, "/flag"); /* flag > env > file */
	assert_int_equal(swb_opts_source(&spec, &dir, &where), SWB_SRC_FLAG);
	assert_int_equal(n, 7); /* env > file */
	assert_int_equal(swb_opts_source(&spec, &n, &where), SWB_SRC_ENV);
	assert_string_equal(level, "debug"); /* file > default */
	assert_int_equal(swb_opts_source(&spec, &level, &where), SWB_SRC_FILE);
	char want[96];
	snprintf(want, sizeof(want), "%s:3", path);
	assert_string_equal(where, want);
	assert_int_equal(apps.n, 2); /* repeatable from the file */
	assert_string_equal(apps.items[1], "d:e:f");

	/* a reload reads the file's list again */
	write_file("app = x:y:z\n");
	swb_strlist again = { 0 };
	char err[256];
	assert_int_equal(swb_opts_reread_list(&spec, "app", &again, err, sizeof(err)), 0);
	assert_int_equal(again.n, 1);
	assert_string_equal(again.items[0], "x:y:z");
	swb_strlist_free_owned(&again);

	/* the env list replaces the file's */
	setenv("SWB_T_APPS", "g:h:i", 1);
	setenv("SWB_T_CONFIG", path, 1);
	char *argv2[] = { "t", NULL };
	swb_opts_parse(&spec, 1, argv2);
	assert_int_equal(apps.n, 1);
	assert_string_equal(apps.items[0], "g:h:i");

	/* --check-config's dump masks secrets */
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	swb_opts_dump(&spec, f);
	fclose(f);
	assert_non_null(strstr(out, "app = g:h:***"));
	assert_null(strstr(out, "g:h:i"));
	free(out);

	swb_opts_release(&spec);
	unsetenv("SWB_T_APPS");
	unsetenv("SWB_T_CONFIG");
	unsetenv("SWB_T_COUNT");
	unsetenv("SWB_T_DIR");
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_precedence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
