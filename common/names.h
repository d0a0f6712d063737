/* names.h: validation of names that come from outside (channel, event,
 * socket id, app id). Every check takes an explicit length: inputs are not
 * trusted to be NUL-terminated or free of embedded NULs. */
#ifndef SWB_NAMES_H
#define SWB_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define SWB_CHANNEL_NAME_MAX 164
#define SWB_EVENT_NAME_MAX 200
#define SWB_SOCKET_ID_MAX 41
#define SWB_APP_ID_MAX 64

/* Pusher channel names: 1..164 bytes of A-Z a-z 0-9 _ - = @ , . ;
 * An optional leading '#' is allowed only for "#server-to-user-" names. */
bool swb_channel_name_valid(const char *s, size_t n);
/* Event names: 1..200 bytes, no control characters. */
bool swb_event_name_valid(const char *s, size_t n);
/* Socket ids: ^[0-9]+\.[0-9]+$, at most SWB_SOCKET_ID_MAX bytes. */
bool swb_socket_id_valid(const char *s, size_t n);
/* App ids, keys: 1..64 bytes of A-Z a-z 0-9 _ - . (they appear in Redis
 * keys and URLs, so ':' '/' and '{' are never allowed). */
bool swb_app_token_valid(const char *s, size_t n);

enum swb_channel_kind {
	SWB_CH_PUBLIC = 0,
	SWB_CH_PRIVATE,
	SWB_CH_PRIVATE_ENCRYPTED,
	SWB_CH_PRESENCE,
	SWB_CH_SERVER_TO_USER,
};
/* Channel type by name prefix (name must already be valid). */
enum swb_channel_kind swb_channel_kind(const char *s, size_t n);

#endif
