/* vsctl: the command-line client of vsd. Global options and dispatch. */
#include "cli/cli.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vs_trace.h"
#include "lib/vs_util.h"

#define POOL_FLAGS                                                                                 \
	"  --memory SIZE|P%   memory of all members together (P% of the node's RAM)\n"             \
	"  --cpus N|P%        CPUs of all members together (P% of the online CPUs)\n"              \
	"  --cpu-weight N     CPU share against sibling pools and containers, 1-10000\n"           \
	"  --io-weight N      disk I/O share, 1-10000\n"                                           \
	"  --pids N           processes of all members together\n"                                 \
	"  --weight P%        cpu and io weight as P% of the node: weight P*100 (the\n"            \
	"                     default of a container is 100, so 100% counts as 100 of them)\n"

static const struct vc_cmd commands[] = {
    {NULL, "create", vc_cmd_create,
     "NAME --template T [--hostname H] [--privileged] [--owner O] [--root-password-file F] "
     "[--ssh-key-file F] [LIMITS...] [NETWORK...]",
     "Create a container from template T (it is not started).",
     "  --template T         the template to use (required)\n"
     "  --hostname H         the container's hostname (default: NAME)\n"
     "  --privileged         no user namespace: container root is host root\n"
     "  --owner O            the hosting account it belongs to (owner-scoped tokens)\n"
     "  --root-password-file F  root's password, set inside at the first start (- for\n"
     "                       stdin; never give it in argv)\n"
     "  --ssh-key-file F     root's SSH public keys, one per line\n"
     "Limits:\n" VC_LIMIT_HELP "Network (none: loopback only):\n" VC_NET_HELP},
    {NULL, "set", vc_cmd_set, "NAME LIMITS... NETWORK...",
     /* The summary is one line of the command list in `vsctl --help`. */
     "Change limits, pool, idle reclaim or network, live if it runs: all or none; persisted.",
     "  (a value of \"none\" removes that limit, e.g. --memory none)\n"
     "  --if-match ETAG only if the stored config still has this ETag (from the\n"
     "                  ETag header of GET /v1/containers/NAME); else nothing "
     "changes\n" VC_LIMIT_HELP "Network:\n" VC_NET_SET_HELP},
    {NULL, "start", vc_cmd_start, "NAME", "Start a container.", NULL},
    {NULL, "stop", vc_cmd_stop, "NAME [--timeout S] [--force]",
     "Stop a container: send its stop signal, kill it after the timeout.",
     "  --timeout S     seconds to wait before killing (0..3600, default 30)\n"
     "  --force         kill at once\n"},
    {NULL, "restart", vc_cmd_restart, "NAME [--timeout S]", "Stop, then start a container.",
     "  --timeout S     seconds to wait before killing (0..3600, default 30)\n"},
    {NULL, "destroy", vc_cmd_destroy, "NAME [--force]", "Delete a container and its own files.",
     "  --force         stop it first (SIGKILL) if it is running; needed to destroy\n"
     "                  a suspended container (its memory image is lost)\n"},
    {NULL, "lock", vc_cmd_lock, "NAME [--reason TEXT]",
     "Lock a container (a panel's suspension for non-payment; not `suspend`): stop it and "
     "refuse every start, resume, restore, exec and console until it is unlocked.",
     "  --reason TEXT   why (shown in status and in every refusal)\n"},
    {NULL, "unlock", vc_cmd_unlock, "NAME [--start]", "Unlock a locked container.",
     "  --start         start it once unlocked\n"},
    {NULL, "passwd", vc_cmd_passwd, "NAME [--user U] [--password-file F|-]",
     "Set a user's password inside a container (now, or at its next start).",
     "  --user U              the user (default root); it must exist in the container\n"
     "  --password-file F     read the password from F, or stdin for - (the default;\n"
     "                        typed without echo on a terminal); never give it in argv\n"},
    {"ssh-key", "add", vc_cmd_ssh_key_add, "NAME --file F [--user U] [--replace]",
     "Add SSH public keys (one per line of F) to a user's authorized_keys inside.",
     "  --file F        the keys (- for stdin; blank and # lines skipped)\n"
     "  --user U        the user (default root)\n"
     "  --replace       replace authorized_keys instead of adding\n"},
    {NULL, "reinstall", vc_cmd_reinstall,
     "NAME [--template T] [--root-password-file F|-] [--ssh-key-file F] [--yes]",
     "Give a container a new, empty root from its (or another) template; keeps name, "
     "limits, disk, addresses, hostname.",
     "  --template T            another template (refused while it has snapshots)\n"
     "  --root-password-file F  the new root password (- for stdin)\n"
     "  --ssh-key-file F        root's SSH public keys, one per line\n"
     "  --yes                   do not ask (needed without a terminal)\n"},
    {NULL, "usage", vc_cmd_usage, "NAME [--since DATE|SECONDS] [--json]",
     "Show usage for billing since a time: CPU seconds, memory, disk, traffic.",
     "  --since T       unix seconds or a UTC date (2026-12-01, 2026-12-01T13:00);\n"
     "                  default: since the container was created\n"
     "  --json          print the API's JSON\n"},
    {NULL, "list", vc_cmd_list, "[--json]", "List containers.",
     "  --json          print the API's JSON\n"},
    {NULL, "status", vc_cmd_status, "NAME [--json]", "Show a container's status.",
     "  --json          print the API's JSON\n"},
    {NULL, "stats", vc_cmd_stats, "NAME [--json]",
     "Show a container's resource usage: CPU, memory, processes, I/O, OOM kills.",
     "  --json          print the API's JSON\n"},
    {NULL, "top", vc_cmd_top, "[--interval S] [--once]",
     "Show all containers' usage in a table sorted by CPU, refreshed every S seconds.",
     "  --interval S    seconds between refreshes (0.2..3600, default 2)\n"
     "  --once          print one table and exit (CPU% from the daemon's last sample)\n"},
    {NULL, "exec", vc_cmd_exec, "NAME [--tty|-t] [--env K=V]... [--ticket] -- CMD [ARG...]",
     "Run a command in a running container; exit with its status.",
     "  -t, --tty       run it on a terminal (the local one goes to raw mode)\n"
     "  -e, --env K=V   set an environment variable (repeatable)\n"
     "  --ticket        print a one-time stream ticket (JSON) for a browser instead\n"},
    {NULL, "enter", vc_cmd_enter, "NAME", "Open a login shell in a running container.", NULL},
    {NULL, "console", vc_cmd_console, "NAME [--ticket]",
     "Attach to a container's console; detach with Ctrl-a q.",
     "  --ticket        print a one-time stream ticket (JSON) for a browser instead\n"},
    {NULL, "migrate", vc_cmd_migrate,
     "NAME --to REMOTE [--mode auto|live|precopy|postcopy|stop|offline] [--bandwidth RATE] "
     "[--check] [--json] | NAME --recover [--force]",
     "Move a container to another node (a remote), running or not.",
     "  --to REMOTE      the node it goes to (vsctl remote add); the two nodes\n"
     "                   must trust each other's node certificate\n"
     "  --mode M         auto (default: live when running, else offline), live\n"
     "                   (= precopy: disk rounds while it runs, then a short\n"
     "                   freeze), stop (stop, move, start), offline (stopped)\n"
     "  --bandwidth RATE cap the copy at RATE bytes per second (50M)\n"
     "  --check          only ask the target what would block the move\n"
     "  --recover        after a post-copy pull failed: run the frozen copy here\n"
     "                   again (as at its freeze), once the target says its copy\n"
     "                   is gone; --force when the target cannot be asked and is\n"
     "                   known to be down for good\n"
     "  --json           print the operation's result as JSON\n"},
    {NULL, "suspend", vc_cmd_suspend, "NAME [--json]",
     "Checkpoint a running container to its own image and stop it.",
     "  --json          print the operation's result as JSON\n"},
    {NULL, "resume", vc_cmd_resume, "NAME [--discard] [--json]",
     "Restore a suspended container from its image.",
     "  --discard       drop the memory image instead: the container is stopped,\n"
     "                  its disk as at suspend, ready to start (the way out when\n"
     "                  the image cannot be restored)\n"
     "  --json          print the operation's result as JSON\n"},
    {NULL, "checkpoint", vc_cmd_checkpoint, "NAME --dir DIR [--leave-running] [--json]",
     "Checkpoint a running container into DIR; it stops unless --leave-running.",
     "  --dir DIR       the image directory: new, or empty (required)\n"
     "  --leave-running keep the container running after the dump\n"
     "  --json          print the operation's result as JSON\n"},
    {NULL, "restore", vc_cmd_restore, "NAME --dir DIR [--json]",
     "Restore a stopped container from the image in DIR.",
     "  --dir DIR       the image directory, made by checkpoint (required)\n"
     "  --json          print the operation's result as JSON\n"},
    {NULL, "export", vc_cmd_export, "NAME FILE [--with-template]",
     "Write a backup of a container (running: frozen while its layer is read) to FILE.",
     "  --with-template include the template's files (else its name and digest)\n"},
    {NULL, "import", vc_cmd_import, "FILE [NAME] [--template-mismatch-ok]",
     "Create a container from a backup made by export.",
     "  --template-mismatch-ok  use a same-named template whose digest differs\n"},
    {"snapshot", "create", vc_cmd_snapshot_create, "NAME [SNAP] [--with-memory] [--json]",
     "Snapshot a container's own layer (stopped or running) as SNAP.",
     "  --with-memory   running only: keep a checkpoint (memory) beside the copy\n"
     "  --json          print the operation's result as JSON\n"
     "Snapshots live outside the disk image: not counted against the disk quota.\n"},
    {"snapshot", "list", vc_cmd_snapshot_list, "NAME [--json]", "List a container's snapshots.",
     NULL},
    {"snapshot", "restore", vc_cmd_snapshot_restore, "NAME SNAP [--stop] [--json]",
     "Put a snapshot's layer back (with memory: the container runs again from it).",
     "  --stop          stop a running container first (otherwise refused)\n"
     "  --json          print the operation's result as JSON\n"},
    {"snapshot", "delete", vc_cmd_snapshot_delete, "NAME SNAP", "Delete a snapshot.", NULL},
    {"template", "build", vc_cmd_template_build, "NAME --from busybox|debian[:SUITE]",
     "Build a template; progress is shown on stderr.",
     "  --from SOURCE   busybox, debian or debian:SUITE (required)\n"},
    {"template", "import", vc_cmd_template_import, "NAME FILE",
     "Import a template from a tar archive (tar, tar.gz, tar.xz, tar.zst).", NULL},
    {"template", "list", vc_cmd_template_list, "[--json]", "List templates.",
     "  --json          print the API's JSON\n"},
    {"template", "remove", vc_cmd_template_remove, "NAME",
     "Remove a template that no container uses.", NULL},
    {"pool", "create", vc_cmd_pool_create,
     "NAME [--memory SIZE|P%] [--cpus N|P%] [--cpu-weight N] [--io-weight N] [--pids N] "
     "[--weight P%]",
     "Create a resource pool: limits its members share.", POOL_FLAGS},
    {"pool", "set", vc_cmd_pool_set,
     "NAME [--memory SIZE|P%] [--cpus N|P%] [--cpu-weight N] [--io-weight N] [--pids N] "
     "[--weight P%]",
     "Change a pool's limits at once, for running members too.", POOL_FLAGS},
    {"pool", "list", vc_cmd_pool_list, "[--json]", "List pools, their limits and members.",
     "  --json          print the API's JSON\n"},
    {"pool", "remove", vc_cmd_pool_remove, "NAME", "Remove a pool that has no members.", NULL},
    {"token", "create", vc_cmd_token_create,
     "NAME [--scope read|operate|admin] [--owner OWNER] [--expires DURATION]",
     "Create an API token and print its secret (shown this once).",
     "  --scope S        read, operate (default) or admin\n"
     "  --owner OWNER    the token sees and acts on only OWNER's containers\n"
     "  --expires D      lifetime: seconds, or a number with s, m, h or d (default: never)\n"
     "  --json           print the API's JSON (it holds the secret)\n"},
    {"token", "list", vc_cmd_token_list, "[--json]", "List API tokens (never their secrets).",
     "  --json          print the API's JSON\n"},
    {"token", "revoke", vc_cmd_token_revoke, "NAME", "Revoke an API token at once.", NULL},
    {NULL, "audit", vc_cmd_audit, "[--since UNIX] [--limit N] [--json]",
     "Show the audit log's newest records: who changed what, and refused credentials.",
     "  --since UNIX    only records at or after this unix time\n"
     "  --limit N       at most N records, the newest (default 100)\n"
     "  --json          print the API's JSON\n"},
    {"remote", "add", vc_cmd_remote_add,
     "NAME https://HOST:PORT [--join-token-file F | --token-file F] [--accept-fingerprint FP]",
     "Add a remote node: pin its certificate, redeem a join token or keep an API token.",
     "  --join-token-file F  a join token (vsctl trust token on the node) in F, or\n"
     "                       - for stdin: the node then trusts this machine\n"
     "                       (its certificate, made on first use)\n"
     "  --token-file F       an API token in F (or - for stdin), sent as Bearer\n"
     "  --accept-fingerprint FP  the SHA-256 the node's certificate must have\n"
     "                       (vsctl node info there); without it, asked on the\n"
     "                       terminal, refused without one\n"},
    {"remote", "list", vc_cmd_remote_list, "", "List remotes (local is the unix socket).", NULL},
    {"remote", "remove", vc_cmd_remote_remove, "NAME", "Forget a remote.", NULL},
    {"remote", "default", vc_cmd_remote_default, "NAME",
     "Send commands without REMOTE: to NAME (local: the unix socket).", NULL},
    {"trust", "list", vc_cmd_trust_list, "[--json]",
     "List trusted client certificates (name, SHA-256 fingerprint).", NULL},
    {"trust", "add", vc_cmd_trust_add, "NAME CERTFILE",
     "Trust the client certificate in CERTFILE (PEM) as NAME.", NULL},
    {"trust", "remove", vc_cmd_trust_remove, "FINGERPRINT", "Stop trusting a client certificate.",
     NULL},
    {"trust", "token", vc_cmd_trust_token, "NAME [--expires DURATION]",
     "Print a one-time join token: a remote redeems it to trust its certificate.",
     "  --expires DURATION  how long it stays valid: seconds, or 30m, 12h, 7d\n"
     "                      (default 1d)\n"},
    {"trust", "tokens", vc_cmd_trust_tokens, "[--json]", "List join tokens not yet redeemed.",
     NULL},
    {"node", "evacuate", vc_cmd_node_evacuate,
     "--to REMOTE [--parallel N] [--mode M] [--bandwidth RATE]",
     "Move every container of this node to REMOTE (maintenance); each as vsctl migrate.",
     "  --to REMOTE      the node they go to (vsctl remote add)\n"
     "  --parallel N     moves at once (default 1, at most 16)\n"
     "  --mode M         as vsctl migrate (default auto: live when running)\n"
     "  --bandwidth RATE cap each move's copy at RATE bytes per second\n"},
    {"node", "info", vc_cmd_node_info, "[--json]", "Show the daemon and node.",
     "  --json          print the API's JSON\n"},
    {NULL, "monitor", vc_cmd_monitor, "[--type T[,T...]] [--json]",
     "Print lifecycle events as they happen (until Ctrl-C).",
     "  --type T,...    only these types (container-created, container-started,\n"
     "                  container-stopped, container-destroyed, container-oom,\n"
     "                  container-updated, container-suspended, container-resumed,\n"
     "                  operation-progress, operation-end)\n"
     "  --json          print each event's JSON data object\n"
     "If the stream ends (vsd restarts), it reconnects and resumes after the last\n"
     "event it printed; it gives up after 30 s without an answer.\n"},
    {"operation", "list", vc_cmd_operation_list, "[--json]",
     "List operations (running, and finished in the last 10 minutes).",
     "  --json          print the API's JSON\n"},
    {"operation", "show", vc_cmd_operation_show, "ID [--wait S] [--json]",
     "Show an operation, after waiting up to S seconds for it to end.",
     "  --wait S        wait until it ends, at most S seconds (0..60)\n"
     "  --json          print the API's JSON\n"},
    {"operation", "cancel", vc_cmd_operation_cancel, "ID",
     "Cancel an operation where the work allows it (a template build).", NULL},
};

static void print_usage(FILE *f)
{
	fprintf(f, "Usage: vsctl [--socket PATH] [--json] COMMAND [ARGS...]\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < VS_ARRAY_SIZE(commands); i++) {
		const struct vc_cmd *c = &commands[i];
		cleanup_free char *words =
		    c->group ? xasprintf("%s %s", c->group, c->name) : xstrdup(c->name);
		fprintf(f, "  %-16s %s\n", words, c->summary);
	}
	fprintf(
	    f, "\nGlobal options:\n"
	       "  --socket PATH   the daemon's socket (default $VSD_SOCKET, else " VC_DEFAULT_SOCKET
	       ")\n"
	       "  --remote NAME   send the command to remote NAME (vsctl remote list); a\n"
	       "                  container may also be named REMOTE:NAME\n"
	       "  --json          print the API's JSON (reading commands)\n"
	       "  --help          this help; 'vsctl COMMAND --help' for a command\n"
	       "  --version       print the version\n\n"
	       "Exit status: 0 success, 1 failure, 2 bad usage; exec and enter exit with\n"
	       "the command's status.\n"
	       "\nContainer states: stopped, starting, running, stopping, suspended.\n");
}

static const struct vc_cmd *find_command(int argc, char **argv, int *words)
{
	for (size_t i = 0; i < VS_ARRAY_SIZE(commands); i++) {
		const struct vc_cmd *c = &commands[i];
		if (c->group == NULL && strcmp(argv[0], c->name) == 0) {
			*words = 1;
			return c;
		}
		if (c->group != NULL && strcmp(argv[0], c->group) == 0 && argc > 1 &&
		    strcmp(argv[1], c->name) == 0) {
			*words = 2;
			return c;
		}
	}
	return NULL;
}

static bool is_group(const char *w)
{
	for (size_t i = 0; i < VS_ARRAY_SIZE(commands); i++)
		if (commands[i].group != NULL && strcmp(commands[i].group, w) == 0)
			return true;
	return false;
}

#define EXIT_NOW (-3) /* --help or --version printed */

/* Global options, up to the command word. Returns the index of the
 * command word, VC_ERR_USAGE, or EXIT_NOW. */
static int parse_global(int argc, char **argv, struct vc_ctx *ctx, struct vs_error *err)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'}, {"remote", required_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},	      {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {0},
	};
	bool reset = true;
	int c;

	/* "+": stop at the command word; its options are the command's. */
	while ((c = vc_getopt(argc, argv, "+h", opts, &reset, err)) != -1) {
		switch (c) {
		case 's':
			ctx->socket_path = optarg;
			break;
		case 'r':
			ctx->remote_name = optarg;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			print_usage(stdout);
			return EXIT_NOW;
		case 'V':
			printf("vsctl %s\n", VSD_VERSION);
			return EXIT_NOW;
		default:
			return VC_ERR_USAGE;
		}
	}
	if (optind >= argc)
		return vc_usage(err, "missing command");
	return optind;
}

static int dispatch(int argc, char **argv, struct vc_ctx *ctx, struct vs_error *err)
{
	const char *env = getenv("VSD_SOCKET");
	int first, words;

	ctx->socket_path = env && env[0] ? env : VC_DEFAULT_SOCKET;
	first = parse_global(argc, argv, ctx, err);
	if (first < 0)
		return first;
	argc -= first;
	argv += first;
	ctx->cmd = find_command(argc, argv, &words);
	if (ctx->cmd == NULL) {
		if (is_group(argv[0]) && argc > 1)
			return vc_usage(err, "unknown command '%s %s'", argv[0], argv[1]);
		if (is_group(argv[0]))
			return vc_usage(err, "'%s' needs a subcommand", argv[0]);
		return vc_usage(err, "unknown command '%s'", argv[0]);
	}
	/* The remote commands manage remotes, they do not go to one. */
	if (strcmp(ctx->cmd->group ? ctx->cmd->group : "", "remote") != 0) {
		int r = vc_remote_resolve(ctx, argc - words + 1, argv + words - 1, err);
		if (r != 0)
			return r;
	}
	/* The command sees argv[0] = its last word, as getopt expects. */
	return ctx->cmd->fn(ctx, argc - words + 1, argv + words - 1, err);
}

/* A missing stdin/stdout/stderr would make our socket fd 0, 1 or 2, and
 * exec would then copy the stream into itself: fill the gaps. */
static int ensure_stdio(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 &&
		    open("/dev/null", (fd ? O_WRONLY : O_RDONLY) | O_CLOEXEC) != fd)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct vc_ctx ctx = {0};
	struct vs_error err = {0};
	int r;

	/* Writes to a daemon or a reader that went away fail with EPIPE and
	 * are reported; the default action would kill us silently. */
	vs_trace_init();
	vs_trace_mark("vsctl.main");
	signal(SIGPIPE, SIG_IGN);
	if (ensure_stdio() < 0)
		return 1; /* nowhere to say why */
	r = dispatch(argc, argv, &ctx, &err);
	vc_ctx_release(&ctx);
	fflush(stdout);
	vs_trace_mark("vsctl.reply");
	if (r == EXIT_NOW)
		return 0;
	if (r == VC_ERR_USAGE) {
		fprintf(stderr, "vsctl: %s\n", err.msg);
		if (ctx.cmd != NULL)
			fprintf(stderr, "Try 'vsctl %s%s%s --help' for more information.\n",
				ctx.cmd->group ? ctx.cmd->group : "", ctx.cmd->group ? " " : "",
				ctx.cmd->name);
		else
			fprintf(stderr, "Try 'vsctl --help' for more information.\n");
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "vsctl: %s\n", err.msg[0] ? err.msg : "failed");
		return 1;
	}
	return r;
}
