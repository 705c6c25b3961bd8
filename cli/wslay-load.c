/* vsctl's libwslay, loaded on the first WebSocket stream. Only a remote
 * (HTTPS, or VSCTL_STREAM=websocket in tests) streams exec and console
 * in WebSocket frames; over the unix socket they pass descriptors. So a
 * local command does not map the library at each of its starts (six page
 * faults and about 0.16 ms per process here, three vsctl processes per
 * start, exec and stop).
 *
 * The functions exec.c calls are defined here under wslay's own names
 * and forward to the library's (dlsym on its handle finds its own
 * definitions, never these). vc_wslay_load() is called before a stream
 * begins, to fail with a message that names the library; a function
 * called before it loads the library itself and, where that fails,
 * answers as wslay does for an error (a failed call, nothing wanted). */
#include <dlfcn.h>
#include <wslay/wslay.h>

#include "cli/cli.h"
#include "lib/vs_util.h"

#define WSLAY_SONAME "libwslay.so.1"

static struct {
	int (*context_client_init)(wslay_event_context_ptr *ctx,
				   const struct wslay_event_callbacks *cb, void *user);
	void (*context_free)(wslay_event_context_ptr ctx);
	int (*get_close_received)(wslay_event_context_ptr ctx);
	int (*get_close_sent)(wslay_event_context_ptr ctx);
	size_t (*get_queued_msg_length)(wslay_event_context_ptr ctx);
	int (*queue_close)(wslay_event_context_ptr ctx, uint16_t status, const uint8_t *reason,
			   size_t reason_len);
	int (*queue_msg)(wslay_event_context_ptr ctx, const struct wslay_event_msg *arg);
	int (*recv)(wslay_event_context_ptr ctx);
	int (*send)(wslay_event_context_ptr ctx);
	void (*set_error)(wslay_event_context_ptr ctx, int val);
	int (*want_read)(wslay_event_context_ptr ctx);
	int (*want_write)(wslay_event_context_ptr ctx);
} api;
static bool loaded;

int vc_wslay_load(struct vs_error *err)
{
	/* Each field of api is the library's wslay_event_FIELD. */
#define SYM(f) "wslay_event_" #f, (void **)&api.f
	const struct {
		const char *name;
		void **slot;
	} syms[] = {{SYM(context_client_init)},
		    {SYM(context_free)},
		    {SYM(get_close_received)},
		    {SYM(get_close_sent)},
		    {SYM(get_queued_msg_length)},
		    {SYM(queue_close)},
		    {SYM(queue_msg)},
		    {SYM(recv)},
		    {SYM(send)},
		    {SYM(set_error)},
		    {SYM(want_read)},
		    {SYM(want_write)}};
#undef SYM
	void *h;

	if (loaded)
		return 0;
	h = dlopen(WSLAY_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return vs_error_set(err, 0, "WebSocket streams: load %s: %s", WSLAY_SONAME,
				    dlerror());
	for (size_t i = 0; i < VS_ARRAY_SIZE(syms); i++) {
		*syms[i].slot = dlsym(h, syms[i].name);
		if (*syms[i].slot == NULL) {
			dlclose(h);
			return vs_error_set(err, 0, "WebSocket streams: %s has no %s", WSLAY_SONAME,
					    syms[i].name);
		}
	}
	loaded = true;
	return 0;
}

static bool ready(void)
{
	struct vs_error e = {0};

	return loaded || vc_wslay_load(&e) == 0;
}

int wslay_event_context_client_init(wslay_event_context_ptr *ctx,
				    const struct wslay_event_callbacks *callbacks, void *user_data)
{
	return ready() ? api.context_client_init(ctx, callbacks, user_data) : WSLAY_ERR_NOMEM;
}

void wslay_event_context_free(wslay_event_context_ptr ctx)
{
	if (ready())
		api.context_free(ctx);
}

int wslay_event_get_close_received(wslay_event_context_ptr ctx)
{
	return ready() ? api.get_close_received(ctx) : 0;
}

int wslay_event_get_close_sent(wslay_event_context_ptr ctx)
{
	return ready() ? api.get_close_sent(ctx) : 0;
}

size_t wslay_event_get_queued_msg_length(wslay_event_context_ptr ctx)
{
	return ready() ? api.get_queued_msg_length(ctx) : 0;
}

int wslay_event_queue_close(wslay_event_context_ptr ctx, uint16_t status_code,
			    const uint8_t *reason, size_t reason_length)
{
	return ready() ? api.queue_close(ctx, status_code, reason, reason_length)
		       : WSLAY_ERR_INVALID_ARGUMENT;
}

int wslay_event_queue_msg(wslay_event_context_ptr ctx, const struct wslay_event_msg *arg)
{
	return ready() ? api.queue_msg(ctx, arg) : WSLAY_ERR_INVALID_ARGUMENT;
}

int wslay_event_recv(wslay_event_context_ptr ctx)
{
	return ready() ? api.recv(ctx) : WSLAY_ERR_CALLBACK_FAILURE;
}

int wslay_event_send(wslay_event_context_ptr ctx)
{
	return ready() ? api.send(ctx) : WSLAY_ERR_CALLBACK_FAILURE;
}

void wslay_event_set_error(wslay_event_context_ptr ctx, int val)
{
	if (ready())
		api.set_error(ctx, val);
}

int wslay_event_want_read(wslay_event_context_ptr ctx)
{
	return ready() ? api.want_read(ctx) : 0;
}

int wslay_event_want_write(wslay_event_context_ptr ctx)
{
	return ready() ? api.want_write(ctx) : 0;
}
