/* log.h: one-line-per-event logging to stderr, shared by every binary.
 * Levels: error, warn, info, debug. Format: text (default) or json. */
#ifndef SWB_LOG_H
#define SWB_LOG_H

enum swb_log_level { SWB_LOG_ERROR = 0, SWB_LOG_WARN, SWB_LOG_INFO, SWB_LOG_DEBUG };

/* Set the program name shown in each line (not copied: pass a literal). */
void swb_log_init(const char *prog);
/* Parse "error|warn|info|debug"; returns -1 if unknown. */
int swb_log_level_parse(const char *s);
void swb_log_set_level(int level);
/* "error" .. "debug" */
const char *swb_log_level_name(int level);
int swb_log_get_level(void);
/* Set "text" or "json"; returns -1 if unknown. */
int swb_log_set_format(const char *fmt);

void swb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define swb_err(...) swb_log(SWB_LOG_ERROR, __VA_ARGS__)
#define swb_warn(...) swb_log(SWB_LOG_WARN, __VA_ARGS__)
#define swb_info(...) swb_log(SWB_LOG_INFO, __VA_ARGS__)
#define swb_debug(...) \
	do { if (swb_log_get_level() >= SWB_LOG_DEBUG) swb_log(SWB_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
