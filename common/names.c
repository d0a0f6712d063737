/* names.c: name validation (see names.h for the rules). */
#include "names.h"

#include <string.h>

static bool channel_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c == '_' || c == '-' || c == '=' || c == '@' || c == ',' || c == '.' || c == ';';
}

static bool has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);
	return n >= p && memcmp(s, prefix, p) == 0;
}

bool swb_channel_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > SWB_CHANNEL_NAME_MAX)
		return false;
	size_t i = 0;
	if (s[0] == '#') {
		if (!has_prefix(s, n, "#server-to-user-") || n == strlen("#server-to-user-"))
			return false;
		i = 1;
	}
	for (; i < n; i++)
		if (!channel_char((unsigned char)s[i]))
			return false;
	return true;
}

bool swb_event_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > SWB_EVENT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

bool swb_socket_id_valid(const char *s, size_t n)
{
	if (n < 3 || n > SWB_SOCKET_ID_MAX)
		return false;
	size_t dots = 0, digits = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (digits == 0 || ++dots > 1)
				return false;
			digits = 0;
		} else if (s[i] >= '0' && s[i] <= '9') {
			digits++;
		} else {
			return false;
		}
	}
	return dots == 1 && digits > 0;
}

bool swb_app_token_valid(const char *s, size_t n)
{
	if (n == 0 || n > SWB_APP_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-' || c == '.';
		if (!ok)
			return false;
	}
	return true;
}

enum swb_channel_kind swb_channel_kind(const char *s, size_t n)
{
	if (has_prefix(s, n, "private-encrypted-"))
		return SWB_CH_PRIVATE_ENCRYPTED;
	if (has_prefix(s, n, "private-"))
		return SWB_CH_PRIVATE;
	if (has_prefix(s, n, "presence-"))
		return SWB_CH_PRESENCE;
	if (has_prefix(s, n, "#server-to-user-"))
		return SWB_CH_SERVER_TO_USER;
	return SWB_CH_PUBLIC;
}
