/* users.c: signed-in users (pusher:signin). A connection that signed in
 * gets a small swb_edge_signin (allocated only then) holding its user id;
 * the index swb_edge.users maps (app, user id) to the list of those
 * connections, for #server-to-user- checks and terminate_connections.
 *
 * Ownership: each connection owns its swb_edge_signin (freed by
 * swb_edge_users_signout at close); the index owns each swb_edge_user and
 * frees it with its last connection. */
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "frames.h"
#include "log.h"

struct swb_edge_user {
	UT_hash_handle hh;
	swb_edge_signin *head;
	size_t key_len;
	char key[];                   /* "app\0user" */
};

struct swb_edge_signin {
	swb_edge_signin *prev, *next; /* in user->head */
	swb_edge_user *user;
	swb_edge_conn *conn;
	char *user_id;                /* owned */
};

static size_t make_key(char *out, const char *app, const char *uid)
{
	size_t an = strlen(app), un = strlen(uid);
	memcpy(out, app, an);
	out[an] = '\0';
	memcpy(out + an + 1, uid, un);
	return an + 1 + un;
}

static swb_edge_user *user_get(swb_edge *e, const char *app, const char *uid, bool create)
{
	char key[256];
	if (strlen(app) + strlen(uid) + 2 > sizeof(key))
		return NULL;
	size_t kl = make_key(key, app, uid);
	swb_edge_user *u = NULL;
	HASH_FIND(hh, e->users, key, kl, u);
	if (u || !create)
		return u;
	if (!(u = calloc(1, sizeof(*u) + kl + 1)))
		return NULL;
	memcpy(u->key, key, kl);
	u->key_len = kl;
	HASH_ADD_KEYPTR(hh, e->users, u->key, u->key_len, u);
	return u;
}

int swb_edge_users_signin(swb_edge *e, swb_edge_conn *c, char *user_id)
{
	swb_edge_signin *s = calloc(1, sizeof(*s));
	swb_edge_user *u = s ? user_get(e, c->app->id, user_id, true) : NULL;
	if (!u) {
		free(s);
		free(user_id);
		return -1;
	}
	s->user = u;
	s->conn = c;
	s->user_id = user_id;
	s->next = u->head;
	if (u->head)
		u->head->prev = s;
	u->head = s;
	c->signin = s;
	return 0;
}

const char *swb_edge_users_id(const swb_edge_conn *c) { return c->signin ? c->signin->user_id : NULL; }

void swb_edge_users_signout(swb_edge *e, swb_edge_conn *c)
{
	swb_edge_signin *s = c->signin;
	if (!s)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		s->user->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (!s->user->head) {
		HASH_DEL(e->users, s->user);
		free(s->user);
	}
	free(s->user_id);
	free(s);
	c->signin = NULL;
}

void swb_edge_users_terminate(swb_edge *e, const char *app_id, const char *user_id)
{
	swb_edge_user *u = user_get(e, app_id, user_id, false);
	size_t n = 0;
	/* closing only marks the connection; the list changes at CLOSED */
	for (swb_edge_signin *s = u ? u->head : NULL; s; s = s->next) {
		if (s->conn->close_code)
			continue;
		swb_edge_conn_send_new(e, s->conn, swb_edge_frame_error(LWS_PRE, "Connection terminated by the server", 4009));
		swb_edge_conn_close(e, s->conn, 4009, "Terminated", false);
		n++;
	}
	if (n)
		swb_info("terminated %zu connection(s) of user %s (app %s)", n, user_id, app_id);
}
