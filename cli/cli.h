/* cli.h: private interfaces of vsctl (not a public module header).
 *
 * Layers, bottom up:
 *   http.c    HTTP/1.1 over AF_UNIX: request formatting, an incremental
 *             response parser (Content-Length, chunked, read-to-close),
 *             a connection that collects SCM_RIGHTS descriptors
 *   api.c     JSON API calls on top of http.c, API error messages
 *   args.c    option parsing shared by the commands
 *   output.c  tables, "key: value" listings, raw JSON printing
 *   operation.c  following a long operation (progress on stderr)
 *   containers.c, templates.c, exec.c, node.c, checkpoint.c   the commands
 *   main.c    global options and the dispatch table
 *
 * Commands return an exit status >= 0 (0, or the status of a command run
 * with exec), VC_ERR_FAIL (print err, exit 1) or VC_ERR_USAGE (print err
 * and a hint to --help, exit 2). Nothing below main.c prints an error. */
#ifndef VSCTL_CLI_H
#define VSCTL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/vs_config.h"
#include "lib/vs_error.h"
#include "lib/vs_json.h"

#ifndef VSD_VERSION
#define VSD_VERSION "0.1.0"
#endif

#define VC_DEFAULT_SOCKET "/run/vsd/vsd.sock"

#define VC_ERR_FAIL  (-1)
#define VC_ERR_USAGE (-2)
/* Returned by argument parsers when --help was printed: exit 0. */
#define VC_HELP_SHOWN 1

/* ---- http.c --------------------------------------------------------- */

#define VC_HTTP_HEAD_MAX (64 * 1024)
#define VC_HTTP_BODY_MAX (64 * 1024 * 1024)
#define VC_HTTP_LINE_MAX 4096
#define VC_CONN_FDS_MAX	 8

struct vc_http_response {
	int status;	    /* 100..599 */
	char *reason;	    /* reason phrase, possibly "" */
	char *upgrade;	    /* value of the Upgrade header, or NULL */
	char *content_type; /* value of Content-Type, or NULL */
	char *ws_accept;    /* Sec-WebSocket-Accept, or NULL */
	char *ws_protocol;  /* Sec-WebSocket-Protocol, or NULL */
	char *body;	    /* NUL-terminated; body_len bytes (may hold NULs) */
	size_t body_len;
};

/* Frees the strings of r and zeroes it; accepts a zeroed response. */
void vc_http_response_free(struct vc_http_response *r);

enum vc_http_state {
	VC_HS_HEAD,
	VC_HS_BODY_LEN,
	VC_HS_BODY_CLOSE,
	VC_HS_CHUNK_SIZE,
	VC_HS_CHUNK_DATA,
	VC_HS_CHUNK_CRLF,
	VC_HS_TRAILER,
	VC_HS_DONE,
};

/* Incremental parser of one HTTP/1.x response. Feed it bytes as they
 * arrive in pieces of any size; it never reads past the end of the
 * response, so bytes after a 101 response (the upgraded stream) stay with
 * the caller. Interim 100 responses are skipped. */
struct vc_http_parser {
	enum vc_http_state state;
	char *head; /* header bytes of the current response */
	size_t head_len, head_cap;
	char line[VC_HTTP_LINE_MAX]; /* chunk-size and trailer lines */
	size_t line_len;
	uint64_t remaining; /* body bytes (Content-Length) or chunk bytes left */
	size_t body_cap;
	struct vc_http_response resp;
	/* With sink: a 2xx body goes to sink_fd as it arrives (an export),
	 * not into resp.body, and is not bound by VC_HTTP_BODY_MAX. */
	bool sink;
	int sink_fd;
	int sink_errno; /* first write error */
};

/* Ready a parser (zeroes it). */
void vc_http_parser_init(struct vc_http_parser *p);
/* Free what the parser holds, including an unclaimed response. */
void vc_http_parser_free(struct vc_http_parser *p);

/* Parse len bytes. Returns 1 when the response is complete (*used says
 * how many of the bytes belong to it), 0 when all bytes were used and more
 * are needed, or -1 with err (kind VS_EK_INVALID) describing the malformed
 * input (status line, header, Content-Length, chunk framing, or a head or
 * body over VC_HTTP_HEAD_MAX / VC_HTTP_BODY_MAX). After 1, the response in
 * p->resp may be moved out with vc_http_parser_take. */
int vc_http_parse(struct vc_http_parser *p, const char *data, size_t len, size_t *used,
		  struct vs_error *err);

/* The peer closed the connection. Returns 1 when that completes the
 * response (body delimited by close), -1 with err when it was cut short. */
int vc_http_parse_eof(struct vc_http_parser *p, struct vs_error *err);

/* Move the parsed response into *out (the parser keeps nothing). */
void vc_http_parser_take(struct vc_http_parser *p, struct vc_http_response *out);

/* A request. Exactly one of body (JSON text) or body_fd (a file streamed
 * as the body, body_fd_len bytes) may be given. */
struct vc_http_request {
	const char *method;
	const char *path;	  /* already percent-encoded */
	const char *content_type; /* default application/json */
	const char *body;
	size_t body_len;
	int body_fd; /* -1 when none */
	int64_t body_fd_len;
	bool upgrade; /* Connection: Upgrade, Upgrade: vsd-stream */
	bool sink;    /* a 2xx response body goes to sink_fd (see the parser) */
	int sink_fd;
	const char *if_match; /* an ETag (unquoted) for If-Match, or NULL */
	/* With upgrade: ask for a WebSocket instead (Upgrade: websocket,
	 * version 13) with this Sec-WebSocket-Key and subprotocol (or NULL). */
	const char *ws_key;
	const char *ws_protocol;
	const char *authorization; /* an Authorization header value, or NULL */
};

/* The request head (request line and headers, ending in an empty line) as
 * a malloc'd string. Never fails. */
char *vc_http_format_request(const struct vc_http_request *req);

/* Percent-encode one path segment (everything outside [A-Za-z0-9._~-]).
 * Returns a malloc'd string. */
char *vc_http_escape_segment(const char *s);

/* A connection to the daemon's socket. Bytes read past an HTTP response
 * wait in pending; descriptors that arrived with SCM_RIGHTS wait in fds. */
struct vc_conn {
	int fd;
	char *path; /* socket path, for messages */
	char *pending;
	size_t pending_len, pending_cap;
	int fds[VC_CONN_FDS_MAX];
	size_t nfds;
	/* exec, enter and console use a WebSocket stream instead of passing
	 * descriptors (which only a unix socket can): set for remote
	 * connections, and by VSCTL_STREAM=websocket (tests). */
	bool stream_ws;
	struct vc_tls *tls; /* a remote over HTTPS (tls.c); NULL: the unix socket */
	/* Sent as Authorization with every request that names none (a
	 * remote's API token: "Bearer ..."), or NULL. Freed on close. */
	char *authorization;
};

/* ---- tls-load.c (tls.c in vsctl-tls.so): vc_conn over TLS to a remote vsd */

struct vc_tls;
struct vc_tls_target {
	const char *host, *port;
	const char *cert_file, *key_file; /* vsctl's client certificate */
	const char *pin;		  /* the server's fingerprint, or NULL */
};
/* Connect and handshake (TLS 1.2/1.3, presenting the client certificate);
 * the server's fingerprint into got. With a pin that differs: -1 with
 * VS_EK_FORBIDDEN naming both. 0, or -1 with err (c is closed by
 * vc_conn_close either way). */
int vc_conn_open_tls(struct vc_conn *c, const struct vc_tls_target *tg, char got[64 + 1],
		     struct vs_error *err);
/* Like send() and recv() on a TLS connection (-1 with errno). */
ssize_t vc_tls_send(struct vc_conn *c, const void *buf, size_t len);
ssize_t vc_tls_recv(struct vc_conn *c, void *buf, size_t len);
void vc_tls_close(struct vc_conn *c);
/* Does the TLS session hold decrypted bytes not yet received? (poll()
 * cannot see them.) False for a unix connection. */
bool vc_tls_pending(const struct vc_conn *c);
/* A new client certificate for vsctl and its key, PEM, malloc'd
 * (vs_cert_generate's, in the TLS module). 0 or -1. */
int vc_tls_cert_generate(const char *host, char **cert_pem, char **key_pem, struct vs_error *err);

/* ---- wslay-load.c: libwslay, loaded for the first WebSocket stream */

/* Load it (once). 0, or -1 with err naming the library and the reason. */
int vc_wslay_load(struct vs_error *err);

/* Connect to the unix socket at path. 0, or -1 with err saying
 * "cannot connect to PATH: REASON (is vsd running?)". */
int vc_conn_open(struct vc_conn *c, const char *path, struct vs_error *err);
/* Close the socket and every unclaimed received descriptor; idempotent. */
void vc_conn_close(struct vc_conn *c);
#define cleanup_conn __attribute__((cleanup(vc_conn_close)))

/* One recvmsg() into the pending buffer, collecting SCM_RIGHTS fds
 * (received O_CLOEXEC). Returns the number of bytes read (0 at EOF) or -1
 * with err. More fds than VC_CONN_FDS_MAX in total fail (and are closed). */
ssize_t vc_conn_recv(struct vc_conn *c, struct vs_error *err);

/* One send of up to n bytes through the connection's transport, without
 * waiting: returns the number of bytes sent, 0 when none could be sent
 * now (poll for POLLOUT), or -1 with err. */
ssize_t vc_conn_send(struct vc_conn *c, const void *buf, size_t n, struct vs_error *err);
/* Send all len bytes (blocking), over TLS for a remote. 0 or -1 with err. */
int vc_conn_send_all(struct vc_conn *c, const char *buf, size_t len, struct vs_error *err);

/* Remove the first line ("...\n") from pending into buf (without the
 * newline). Returns 1 if a line was there, 0 if not, -1 with err when the
 * line is longer than len - 1. */
int vc_conn_pop_line(struct vc_conn *c, char *buf, size_t len, struct vs_error *err);

/* Receive until a whole line is pending, then pop it (see above). Returns
 * 0, or -1 with err (I/O error, or EOF before a line: "connection closed"). */
int vc_conn_read_line(struct vc_conn *c, char *buf, size_t len, struct vs_error *err);

/* Send req and read the response into *resp (caller frees). For an upgrade,
 * the call returns after the response head and the stream's first bytes and
 * fds stay in c. A peer that answers before taking the whole body (an error
 * while uploading) is still heard. 0, or -1 with err. */
int vc_http_exchange(struct vc_conn *c, const struct vc_http_request *req,
		     struct vc_http_response *resp, struct vs_error *err);

/* ---- api.c ---------------------------------------------------------- */

struct vc_cmd;

struct vc_remote;
struct vc_ctx {
	const char *socket_path;
	const char *remote_name;  /* --remote NAME, or NULL */
	struct vc_remote *remote; /* where API calls go (remote.c); NULL: the unix socket */
	bool json;		  /* global --json */
	const struct vc_cmd *cmd;
	const char *if_match; /* vc_api sends it as If-Match (set --if-match) */
};

/* One JSON API call. body may be NULL. On a 2xx answer returns the HTTP
 * status and, when wanted, *raw (the body as received) and *json (parsed;
 * NULL for an empty body). Otherwise returns -1 with err holding the API's
 * error message (kind from its code) or what went wrong on the way. */
int vc_api(const struct vc_ctx *ctx, const char *method, const char *path, const char *body,
	   char **raw, struct vs_json **json, struct vs_error *err);

/* Map an API error code ("not_found", ...) to an error kind. */
enum vs_error_kind vc_api_error_kind(const char *code);

/* Turn a non-2xx response into err: the API's message when the body is
 * an API error object, else "HTTP STATUS REASON". Returns -1. */
int vc_api_error(const struct vc_http_response *resp, struct vs_error *err);

/* Send FILE (a regular file) as the body of METHOD path, streamed with its
 * Content-Length (template archives, backups). 0 and *op (the 202's
 * operation), or -1 with err (the API's message, or the file's problem). */
int vc_upload(const struct vc_ctx *ctx, const char *method, const char *path, const char *file,
	      struct vs_json **op, struct vs_error *err);

/* "/v1/<collection>/<escaped name><suffix>" (suffix may be ""); malloc'd. */
char *vc_api_path(const char *collection, const char *name, const char *suffix);

/* ---- remote.c: remotes (other nodes over HTTPS) ---------------------- */

/* Pick where the command goes, once, before it runs: --remote NAME, a
 * REMOTE:NAME argument (rewritten to NAME in argv; "local:" is the unix
 * socket), else the default remote, else the unix socket. 0,
 * VC_ERR_USAGE (an unknown remote, two different ones) or VC_ERR_FAIL. */
int vc_remote_resolve(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
/* Connect to where ctx goes: the unix socket, or the remote over TLS with
 * its pinned fingerprint. 0, or -1 with err. */
int vc_ctx_connect(const struct vc_ctx *ctx, struct vc_conn *c, struct vs_error *err);
/* "Bearer TOKEN" when the remote has an API token (malloc'd), else NULL. */
char *vc_ctx_authorization(const struct vc_ctx *ctx);
/* Free what vc_remote_resolve loaded. */
void vc_ctx_release(struct vc_ctx *ctx);
/* The URL ("https://HOST:PORT") and pinned fingerprint of remote name,
 * malloc'd, for a daemon that is to talk to it (migrate --to). 0 or -1
 * (VS_EK_INVALID for an unknown remote). */
int vc_remote_target(const char *name, char **url, char **fp, struct vs_error *err);
int vc_cmd_migrate(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_node_evacuate(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_remote_add(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_remote_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_remote_remove(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_remote_default(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);

/* ---- operation.c ---------------------------------------------------- */

/* Follow the operation in `first` (a 202 answer): poll it every 200 ms and
 * print its new progress lines on stderr as they arrive. Returns 0 when it
 * succeeded, with *final (when final is not NULL; caller frees) the last
 * operation object, holding its "result"; VC_ERR_FAIL with the operation's
 * error message (kind from its code) when it failed, or with what went
 * wrong while following it. */
int vc_follow_operation(const struct vc_ctx *ctx, const struct vs_json *first,
			struct vs_json **final, struct vs_error *err);

/* POST body (may be NULL) to path, follow the operation it starts, and
 * with the global --json print the operation's result. Returns 1 when it
 * printed, 0 when the caller prints a summary from *result (which points
 * into *final; caller frees *final), or VC_ERR_FAIL with err. */
int vc_run_operation(const struct vc_ctx *ctx, const char *path, const char *body,
		     struct vs_json **final, const struct vs_json **result, struct vs_error *err);

/* ---- args.c --------------------------------------------------------- */

/* getopt_long for a command's argv (argv[0] is the command word). Call
 * with *optind_reset true before the first call. Returns the option value,
 * -1 at the end of options, or VC_ERR_USAGE with err naming the unknown
 * option or the option missing its value. Options may follow positional
 * arguments; "--" ends them. */
int vc_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
	      bool *optind_reset, struct vs_error *err);

/* Check that argc - first positional arguments remain, between min and
 * max (max < 0: any). 0, or VC_ERR_USAGE with err. */
int vc_positional(int argc, int first, int min, int max, const char *what, struct vs_error *err);

/* A reading command's arguments: [--json] [--help] and want_name (0 or
 * 1) positional arguments, named what. 0 (ctx->json set by --json, *name
 * the argument when wanted), VC_HELP_SHOWN after the help, VC_ERR_USAGE. */
int vc_parse_reading(struct vc_ctx *ctx, int argc, char **argv, bool want_name, const char *what,
		     const char **name, struct vs_error *err);

/* Fill err and return VC_ERR_USAGE. */
int vc_usage(struct vs_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- output.c ------------------------------------------------------- */

/* A text table: a header row and rows of cells, columns left-aligned and
 * separated by two spaces; the last column is not padded. */
struct vc_table;
struct vc_table *vc_table_new(size_t ncols, const char *const *headers);
/* Append a row of ncols cells (copied; NULL prints "-"). */
void vc_table_add(struct vc_table *t, const char *const *cells);
/* Print to stdout and free the table. */
void vc_table_print(struct vc_table *t);
/* Free the table unprinted. */
void vc_table_free(struct vc_table *t);

/* Print the body exactly as received, ending with a newline. */
void vc_print_raw_json(const char *raw);

/* GET path and print the answer: as it came with --json, else as an
 * object. 0, or an exit status with err. */
int vc_show(const struct vc_ctx *ctx, const char *path, struct vs_error *err);
/* A "list [--json]" command: GET path, then print the answer as it came
 * (--json, once checked as JSON) or a table of headers (ncols) with one
 * row(t, item) per item of the answer's array `key`. 0, or an exit status
 * with err. */
typedef void (*vc_row_fn)(struct vc_table *t, const struct vs_json *item);
int vc_list_command(struct vc_ctx *ctx, int argc, char **argv, const char *path, const char *key,
		    const char *const *headers, size_t ncols, vc_row_fn row, struct vs_error *err);
/* The same for a table whose cells come from each item's top-level members
 * `fields` (one per header): the answer is read without a tree
 * (vs_json_scan_rows), which matters for 1,000 containers. */
typedef void (*vc_cells_fn)(struct vc_table *t, const struct vs_json_cell *cells);
int vc_list_flat(struct vc_ctx *ctx, int argc, char **argv, const char *path, const char *key,
		 const char *const *headers, const char *const *fields, size_t ncols,
		 vc_cells_fn row, struct vs_error *err);
/* `vsctl GROUP remove|revoke NAME`: DELETE /v1/COLLECTION/NAME (`what`
 * names the argument in usage errors). 0, or an exit status with err. */
int vc_delete_command(struct vc_ctx *ctx, int argc, char **argv, const char *collection,
		      const char *what, struct vs_error *err);

/* Print an object as "key: value" lines; nested objects flatten to
 * "parent.key", arrays print their items joined by spaces (but an array of
 * strings of which one holds a space, such as messages, prints a "key:
 * item" line per item), an array of objects prints each item's members
 * under "key.NAME." (NAME its "name" or "interface" member, else its
 * index: "net.interfaces.eth0.addresses", "net.eth0.egress_bytes"), null
 * prints "-". Keys ending in "_at" print as
 * local dates, and the size fields of limits as sizes ("512M"). */
void vc_print_object(const struct vs_json *obj);

/* A scalar as text into buf ("-" for null or absent). */
void vc_scalar_text(const struct vs_json *v, char *buf, size_t len);
/* Unix seconds as "YYYY-MM-DD HH:MM" (local time); "-" for 0 or absent. */
void vc_format_time(const struct vs_json *v, bool seconds, char *buf, size_t len);
/* Approximate size for tables: "512M", "1.2G", "800K". */
void vc_format_size_short(int64_t bytes, char *buf, size_t len);

/* ---- commands ------------------------------------------------------- */

typedef int (*vc_cmd_fn)(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);

struct vc_cmd {
	const char *group; /* "template", "node" or NULL */
	const char *name;
	vc_cmd_fn fn;
	const char *synopsis; /* arguments after the command words */
	const char *summary;
	const char *options; /* help text for options, may be NULL */
};

/* Print the command's help (ctx->cmd) to stdout. Returns VC_HELP_SHOWN. */
int vc_cmd_help(const struct vc_ctx *ctx);

int vc_cmd_create(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_set(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
/* operation.c and monitor.c */
int vc_cmd_operation_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_operation_show(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_operation_cancel(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_monitor(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
/* trust.c */
int vc_cmd_trust_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_trust_add(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_trust_remove(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_trust_token(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_trust_tokens(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
/* A duration: whole seconds, or with s, m, h or d ("30m", "7d"). 0, or -1
 * with VS_EK_INVALID naming what. */
int vc_parse_duration(const char *s, const char *what, int64_t *out, struct vs_error *err);

/* ---- limits.c: the resource flags of create and set ------------------ */

/* The flags' values as given (NULL: not given), by enum vs_limit_field. */
struct vc_limit_args {
	const char *val[16];
	const char *pool;    /* a name, or "none" (set only) */
	const char *reclaim; /* "on" or "off" */
	bool any;	     /* some val[] is set */
};
/* The help lines of the flags (a string literal). */
#define VC_LIMIT_HELP                                                                              \
	"  --memory SIZE        memory limit, e.g. 512M, 1.5G\n"                                   \
	"  --memory-high SIZE   where reclaim and throttling start (at most --memory)\n"           \
	"  --memory-min SIZE    memory guaranteed, protected from reclaim\n"                       \
	"  --swap SIZE          swap on top of memory (default 0: none; -1: unlimited)\n"          \
	"  --cpus N             CPU cap as a decimal, e.g. 1.5 (also pins to that many CPUs,\n"    \
	"                       rounded up, unless --cpuset is given)\n"                           \
	"  --cpu-weight N       proportional CPU share, 1..10000 (default 100)\n"                  \
	"  --cpuset LIST        CPUs to run on, e.g. 0-1 or 0,2\n"                                 \
	"  --pids N             maximum number of processes\n"                                     \
	"  --io-weight N        proportional disk-time share, 1..10000\n"                          \
	"  --io-read-bps SIZE   read bytes per second, e.g. 50M\n"                                 \
	"  --io-write-bps SIZE  write bytes per second\n"                                          \
	"  --io-read-iops N     read operations per second\n"                                      \
	"  --io-write-iops N    write operations per second\n"                                     \
	"  --disk SIZE          disk quota of the container's own layer, e.g. 10G\n"               \
	"  --inodes N           files in the container's own layer (needs --disk)\n"               \
	"  --pool NAME          the resource pool to belong to\n"                                  \
	"  --idle-reclaim on|off  whether idle memory may be reclaimed (default on)\n"

/* Append the flags' long options to out (room for max); returns how many. */
size_t vc_limit_options(struct option *out, size_t max);
/* Take option c if it is one of the flags: 1; 0 if it is not one; or
 * VC_ERR_USAGE with err (an integer flag that is not an integer, a bad
 * --idle-reclaim). allow_none: "none" is a value (set). */
int vc_limit_opt(int c, const char *arg, bool allow_none, struct vc_limit_args *a,
		 struct vs_error *err);
bool vc_limit_args_empty(const struct vc_limit_args *a);
/* Print the status's limits_unenforced lines as warnings on stderr. */
void vc_limit_warnings(const struct vs_json *status);
/* Emit the "limits", "pool" and "idle_reclaim" members for what was given. */
void vc_limit_gen(struct vs_jgen *g, const struct vc_limit_args *a);
/* ---- net.c: the network flags of create and set ----------------------- */

/* One interface as the flags describe it (values as given). */
struct vc_net_iface_args {
	const char *model;  /* "routed" or "bridged" */
	const char *bridge; /* NULL: vsd's own bridge */
	const char *addrs[VS_NET_ADDRS_MAX];
	size_t naddrs;
	const char *gw4, *gw6, *mac;
};
struct vc_net_args {
	struct vc_net_iface_args ifaces[VS_NET_IFACES_MAX];
	size_t nifaces;
	bool ifaces_none; /* set --net none: no interfaces */
	const char *nameservers[VS_NET_NAMESERVERS_MAX];
	size_t nnameservers;
	bool nameservers_none;		   /* set --nameserver none: the node's defaults */
	const char *shaping[6];		   /* egress rate/peak/burst, ingress ...; "none" (set) */
	const char *add[VS_NET_ADDRS_MAX]; /* set --ip-add ADDR[/P][@IFACE] */
	size_t nadd;
	const char *del[VS_NET_ADDRS_MAX]; /* set --ip-del ADDR */
	size_t ndel;
	bool any;
};
#define VC_NET_HELP                                                                                \
	"  --net MODEL          start an interface (eth0, eth1, ...): routed, bridged or\n"        \
	"                       bridged:BRIDGE (default bridge: vsd's own)\n"                      \
	"  --ip ADDR[/PREFIX]   an address of the latest interface (repeatable); before any\n"     \
	"                       --net it starts a routed one. Routed: single hosts; bridged:\n"    \
	"                       default /24 and /64. --net without --ip: from the pools\n"         \
	"  --gateway ADDR       bridged: the latest interface's IPv4 or IPv6 gateway\n"            \
	"  --mac MAC            the latest interface's MAC (default: a stable one)\n"              \
	"  --nameserver ADDR    a nameserver for resolv.conf (repeatable, at most 3)\n"            \
	"  --egress-rate R      what the container sends: average rate, e.g. 10mbit, 500kbit\n"    \
	"  --egress-peak R      the highest rate for a burst (at least --egress-rate)\n"           \
	"  --egress-burst SIZE  bytes that may pass at once, e.g. 256K\n"                          \
	"  --ingress-rate R     what the container receives (also -peak, -burst)\n"                \
	"  --ingress-peak R\n"                                                                     \
	"  --ingress-burst SIZE\n"
#define VC_NET_SET_HELP                                                                            \
	"  --ip-add ADDR[/PREFIX][@IFACE]  add an address, live (default: the first\n"             \
	"                       interface of its kind; prefix: the interface's)\n"                 \
	"  --ip-del ADDR        remove an address, live\n"                                         \
	"  --net/--ip/--gateway/--mac  replace all interfaces (container stopped);\n"              \
	"                       --net none removes them\n"                                         \
	"  --nameserver ADDR|none, --egress-rate R|none, ... (as in create; none: default)\n"

/* Append the flags' long options (set: also --ip-add, --ip-del); returns
 * how many. */
size_t vc_net_options(struct option *out, size_t max, bool set);
/* Take option c if it is a network flag: 1; 0 if it is not; VC_ERR_USAGE
 * with err naming the flag when its value is bad. set: "none" is a value,
 * --ip-add/--ip-del exist. */
int vc_net_opt(int c, const char *arg, bool set, struct vc_net_args *a, struct vs_error *err);
/* Relations between the flags (set: --net/--ip not with --ip-add/--ip-del).
 * 0 or VC_ERR_USAGE. */
int vc_net_check(const struct vc_net_args *a, struct vs_error *err);
/* Emit the "net" member of a create request / an update, if any flag. */
void vc_net_gen_create(struct vs_jgen *g, const struct vc_net_args *a);
void vc_net_gen_update(struct vs_jgen *g, const struct vc_net_args *a);

int vc_cmd_start(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_stop(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
/* panel.c: lock and unlock (a panel's suspension, not the CRIU suspend). */
int vc_cmd_lock(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_unlock(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
/* panel.c: usage for billing; --since as unix seconds or a UTC date
 * (0, or -1 with VS_EK_INVALID). */
int vc_cmd_usage(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_parse_since(const char *s, int64_t *out, struct vs_error *err);
/* panel.c: passwd, ssh-key add, reinstall; and for create: a password
 * from a file or stdin ("-"; typed without echo on a terminal), one
 * trailing newline dropped (0 with *pw, or -1); public keys from a file,
 * one per line, blank and # lines skipped (0 with *keys, or -1); and
 * their create/reinstall members ("root_password", "ssh_keys"; NULL:
 * absent). */
int vc_cmd_passwd(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_ssh_key_add(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_reinstall(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_read_password(const char *path, char **pw, struct vs_error *err);
int vc_read_keys(const char *path, char ***keys, struct vs_error *err);
void vc_creds_gen(struct vs_jgen *g, const char *pw, char **keys);
int vc_cmd_restart(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_destroy(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_status(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_stats(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_top(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);

int vc_cmd_template_build(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_template_import(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_export(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_import(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_template_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_template_remove(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);

int vc_cmd_exec(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_enter(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_console(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);

/* tokens.c: vsctl token create|list|revoke. */
int vc_cmd_token_create(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_token_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_token_revoke(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
/* tokens.c: vsctl audit (GET /v1/audit). */
int vc_cmd_audit(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
/* tokens.c: a lifetime ("3600", "90s", "30m", "12h", "7d") in seconds. 0 or
 * -1 (VS_EK_INVALID naming --expires). */
int vc_parse_lifetime(const char *s, int64_t *seconds, struct vs_error *err);
int vc_cmd_pool_create(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_pool_set(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_pool_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_pool_remove(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);

int vc_cmd_node_info(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);

int vc_cmd_suspend(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_resume(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_checkpoint(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_restore(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
/* snapshot.c */
int vc_cmd_snapshot_create(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_snapshot_list(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_snapshot_restore(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);
int vc_cmd_snapshot_delete(struct vc_ctx *ctx, int argc, char **argv, struct vs_error *err);

/* checkpoint.c, exposed for unit tests. */
enum vc_cr_kind {
	VC_CR_SUSPEND,
	VC_CR_RESUME,
	VC_CR_CHECKPOINT,
	VC_CR_RESTORE,
};
struct vc_cr_args {
	enum vc_cr_kind kind;
	const char *name;
	char *dir; /* checkpoint, restore: made absolute; malloc'd */
	bool leave_running;
	bool discard; /* resume --discard */
};
/* Parse the arguments of a suspend/resume/checkpoint/restore command
 * (argv[0] the command word): NAME, and for checkpoint --dir DIR
 * [--leave-running], for restore --dir DIR, for resume [--discard], plus
 * --json and --help. A
 * relative DIR is joined to the current directory, and ".." in it is
 * resolved through its existing parent (realpath) when possible. 0 with
 * *a filled (free with vc_cr_args_free), VC_HELP_SHOWN after printing the
 * help (ctx->cmd), VC_ERR_USAGE with err, or VC_ERR_FAIL with err when the
 * current directory is unknown. */
int vc_cr_parse(struct vc_ctx *ctx, enum vc_cr_kind kind, int argc, char **argv,
		struct vc_cr_args *a, struct vs_error *err);
void vc_cr_args_free(struct vc_cr_args *a);
/* path if absolute, else cwd + "/" + path (no normalisation: the daemon
 * does it). malloc'd. */
char *vc_abs_path(const char *cwd, const char *path);
/* The request body for a (malloc'd JSON text). */
char *vc_cr_body(const struct vc_cr_args *a);
/* The one-line summary of a finished operation's result into buf, e.g.
 * "suspended web1: frozen 45 ms, criu 120 ms, total 180 ms, image 12M". */
void vc_cr_summary(const struct vc_cr_args *a, const struct vs_json *result, char *buf, size_t len);

/* The console's detach sequence filter (exec.c), exposed for unit tests.
 * Feeds n input bytes; writes the bytes to pass on into out (room for
 * n + 1) and returns how many, or -1 when Ctrl-a q was seen (detach). */
struct vc_detach {
	bool saw_prefix;
};
ssize_t vc_detach_filter(struct vc_detach *d, const char *in, size_t n, char *out);

#endif
