/* The daemon: arguments, the instance's directories and locks, startup
 * recovery, the listening socket, and the wait for SIGTERM/SIGINT.
 * Containers keep running when vsd stops: shutdown only stops serving. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/vs_cgroups.h"
#include "daemon/handlers.h"
#include "daemon/server.h"
#include "fs-cow/vs_fs.h"
#include "lib/vs_io.h"
#include "lib/vs_util.h"
#include "lib/vs_validate.h"
#include "migrate/vs_migrate.h"

/* At shutdown, running checkpoint and restore operations get this long to
 * finish (a suspend of a large container takes seconds) before vsd exits
 * anyway and leaves the rest to the runtime's recovery at the next start. */
#define VSD_CR_DRAIN_SECONDS 120

struct opts {
	const char *root;
	const char *run_dir;
	const char *socket;
	const char *cgroup_parent;
	const char *registry;
	const char *criu; /* NULL: vs_mig_default_criu() */
	double mem_overcommit;
	int64_t default_disk; /* 0: none */
	bool debug;
	struct vsd_idle_cfg idle;
	struct vs_fs_import_caps import_caps; /* 0: defaults */
	struct vsd *d;			      /* network options go straight here */
	struct vsd_listen_cfg listen;	      /* --listen, --tls-*: listen.c */
};

static const char usage_text[] =
    "Usage: vsd [OPTION]...\n"
    "The vsd container daemon: serves the REST API on a unix socket.\n"
    "\n"
    "  --root DIR            state directory (default " VSD_DEFAULT_ROOT ")\n"
    "  --run-dir DIR         run-time files (default " VSD_DEFAULT_RUN_DIR ")\n"
    "  --socket PATH         API socket (default RUN-DIR/vsd.sock)\n"
    "  --cgroup-parent NAME  cgroup subtree of this instance (default \"vsd\" for\n"
    "                        the default root, else vsd-HASH of the root)\n"
    "  --idmap-registry DIR  machine-wide id-range registry\n"
    "                        (default " VSD_DEFAULT_REGISTRY ")\n"
    "  --criu PATH           the criu program for checkpoint/restore (default\n"
    "                        " VS_MIG_CRIU_PRIVATE " if present, else\n"
    "                        " VS_MIG_CRIU_SYSTEM ")\n"
    "  --memory-overcommit R the memory limits of all containers may add up to\n"
    "                        R times the node's RAM (default 1.0: none; idle\n"
    "                        reclaim makes a higher ratio workable)\n"
    "  --default-disk SIZE   disk quota of containers created without one\n"
    "                        (default: none)\n"
    "  --import-max-size SIZE  an archive import (template, backup) may unpack\n"
    "                        at most SIZE (default 64G)\n"
    "  --import-max-files N  ... and at most N members (default 2000000)\n"
    "  --idle-reclaim on|off take memory back from idle containers (default on)\n"
    "  --idle-reclaim-interval SECONDS\n"
    "                        seconds between usage samples (default 10); a\n"
    "                        container idle for 3 samples in a row is reclaimed from\n"
    "  --idle-threshold CPUS CPU use below which a container counts as idle\n"
    "                        (default 0.02, i.e. 2% of one CPU)\n"
    "Networking (vsd(8), \"Networking\"):\n"
    "  --uplink IF           answer ARP/NDP for routed containers' addresses on IF\n"
    "  --bridge NAME         vsd's own bridge (default vsbr + instance id)\n"
    "  --ip-pool NET=CIDR[@GW]  addresses handed out on network NET (routed,\n"
    "                        bridged for vsd's own bridge, or a bridge name);\n"
    "                        repeatable, IPv4 and IPv6\n"
    "  --private-bridge NAME containers on bridge NAME see each other\n"
    "  --nat CIDR            masquerade these sources leaving by the uplink\n"
    "  --nameserver ADDR     nameserver of containers that name none\n"
    "HTTPS (vsd(8), \"HTTPS\"):\n"
    "  --listen ADDR:PORT    serve the API over TLS on ADDR:PORT too (repeatable;\n"
    "                        127.0.0.1:8443, [::1]:8443)\n"
    "  --tls-cert FILE --tls-key FILE  the node's certificate and key (default:\n"
    "                        generated in ROOT/auth on first start)\n"
    "  --listen-timeout SECONDS  close HTTPS connections silent this long (30)\n"
    "  --listen-max-conns N  HTTPS connections at once (256)\n"
    "  --listen-max-per-ip N ... from one client address (32)\n"
    "  --debug               log every request\n"
    "  -h, --help            show this help\n"
    "  --version             show the version\n";

/* --idle-reclaim, --idle-reclaim-interval, --idle-threshold. 0, or -1
 * after reporting. */
static int parse_idle_opt(int c, const char *arg, struct vsd_idle_cfg *idle)
{
	char *end;
	long n;
	double x;

	switch (c) {
	case 'I':
		if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
			break;
		idle->enabled = strcmp(arg, "on") == 0;
		return 0;
	case 'N':
		errno = 0;
		n = strtol(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || n < 1 || n > 3600)
			break;
		idle->interval_s = (int)n;
		return 0;
	default:
		errno = 0;
		x = strtod(arg, &end);
		if (errno != 0 || end == arg || *end != '\0' || !(x > 0 && x <= 1024))
			break;
		idle->cpu_threshold = x;
		return 0;
	}
	fprintf(stderr, "vsd: --%s: invalid value '%s' (%s)\n",
		c == 'I'   ? "idle-reclaim"
		: c == 'N' ? "idle-reclaim-interval"
			   : "idle-threshold",
		arg,
		c == 'I'   ? "expected on or off"
		: c == 'N' ? "expected whole seconds from 1 to 3600"
			   : "expected CPUs above 0, such as 0.02");
	return -1;
}

/* 0: run; 1: done (help, version); 2: usage error (reported). */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"run-dir", required_argument, NULL, 'R'},
	    {"socket", required_argument, NULL, 's'},
	    {"cgroup-parent", required_argument, NULL, 'c'},
	    {"idmap-registry", required_argument, NULL, 'i'},
	    {"criu", required_argument, NULL, 'C'},
	    {"memory-overcommit", required_argument, NULL, 'O'},
	    {"default-disk", required_argument, NULL, 'D'},
	    {"debug", no_argument, NULL, 'd'},
	    {"import-max-size", required_argument, NULL, 'S'},
	    {"import-max-files", required_argument, NULL, 'F'},
	    {"idle-reclaim", required_argument, NULL, 'I'},
	    {"idle-reclaim-interval", required_argument, NULL, 'N'},
	    {"idle-threshold", required_argument, NULL, 'T'},
	    {"uplink", required_argument, NULL, VSD_OPT_UPLINK},
	    {"bridge", required_argument, NULL, VSD_OPT_BRIDGE},
	    {"ip-pool", required_argument, NULL, VSD_OPT_IP_POOL},
	    {"private-bridge", required_argument, NULL, VSD_OPT_PRIVATE_BRIDGE},
	    {"nat", required_argument, NULL, VSD_OPT_NAT},
	    {"nameserver", required_argument, NULL, VSD_OPT_NAMESERVER},
	    {"listen", required_argument, NULL, VSD_OPT_LISTEN},
	    {"tls-cert", required_argument, NULL, VSD_OPT_TLS_CERT},
	    {"tls-key", required_argument, NULL, VSD_OPT_TLS_KEY},
	    {"listen-timeout", required_argument, NULL, VSD_OPT_LISTEN_TIMEOUT},
	    {"listen-max-conns", required_argument, NULL, VSD_OPT_LISTEN_MAX_CONNS},
	    {"listen-max-per-ip", required_argument, NULL, VSD_OPT_LISTEN_MAX_PER_IP},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct vs_error err = {0};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		const char *arg = argv[optind - 1];
		switch (c) {
		case 'r':
			o->root = optarg;
			break;
		case 'R':
			o->run_dir = optarg;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'c':
			o->cgroup_parent = optarg;
			break;
		case 'i':
			o->registry = optarg;
			break;
		case 'C':
			o->criu = optarg;
			break;
		case 'O': {
			char *end = NULL;
			o->mem_overcommit = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(o->mem_overcommit >= 0.1) ||
			    o->mem_overcommit > 100) {
				fprintf(stderr,
					"vsd: --memory-overcommit: expected a ratio from 0.1 to "
					"100, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'D':
			if (vs_parse_size(optarg, "--default-disk", &o->default_disk, &err) < 0 ||
			    (o->default_disk != 0 &&
			     vs_fs_disk_check(o->default_disk, 0, &err) < 0)) {
				fprintf(stderr, "vsd: --default-disk: %s\n", err.msg);
				return 2;
			}
			break;
		case 'd':
			o->debug = true;
			break;
		case 'S':
			if (vs_parse_size(optarg, "--import-max-size", &o->import_caps.max_bytes,
					  &err) < 0 ||
			    o->import_caps.max_bytes <= 0) {
				fprintf(stderr,
					"vsd: --import-max-size: expected a size above 0 "
					"such as 64G, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'F': {
			char *end = NULL;
			long long n = strtoll(optarg, &end, 10);
			if (end == optarg || *end != '\0' || n <= 0) {
				fprintf(stderr,
					"vsd: --import-max-files: expected a whole number above 0, "
					"got '%s'\n",
					optarg);
				return 2;
			}
			o->import_caps.max_files = n;
			break;
		}
		case 'I':
		case 'N':
		case 'T':
			if (parse_idle_opt(c, optarg, &o->idle) < 0)
				return 2;
			break;
		case VSD_OPT_UPLINK:
		case VSD_OPT_BRIDGE:
		case VSD_OPT_IP_POOL:
		case VSD_OPT_PRIVATE_BRIDGE:
		case VSD_OPT_NAT:
		case VSD_OPT_NAMESERVER:
			if (vsd_net_option(o->d, c, optarg, &err) < 0) {
				fprintf(stderr, "vsd: %s\n", err.msg);
				return 2;
			}
			break;
		case VSD_OPT_LISTEN:
		case VSD_OPT_TLS_CERT:
		case VSD_OPT_TLS_KEY:
		case VSD_OPT_LISTEN_TIMEOUT:
		case VSD_OPT_LISTEN_MAX_CONNS:
		case VSD_OPT_LISTEN_MAX_PER_IP:
			if (vsd_listen_option(&o->listen, c, optarg, &err) < 0) {
				fprintf(stderr, "vsd: %s\n", err.msg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case 'V':
			printf("vsd %s\n", VSD_VERSION);
			return 1;
		case ':':
			fprintf(stderr, "vsd: option '%s' needs an argument (see vsd --help)\n",
				arg);
			return 2;
		default:
			fprintf(stderr, "vsd: unknown option '%s' (see vsd --help)\n", arg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vsd: unexpected argument '%s' (see vsd --help)\n", argv[optind]);
		return 2;
	}
	if (o->root[0] == '\0' || o->run_dir[0] == '\0' || o->registry[0] == '\0' ||
	    (o->socket != NULL && o->socket[0] == '\0')) {
		fprintf(stderr, "vsd: paths must not be empty (see vsd --help)\n");
		return 2;
	}
	if (o->criu != NULL && o->criu[0] != '/') {
		fprintf(stderr, "vsd: --criu: expected an absolute path, got '%s'\n", o->criu);
		return 2;
	}
	if (o->cgroup_parent != NULL &&
	    vs_validate_name(o->cgroup_parent, "--cgroup-parent", &err) < 0) {
		fprintf(stderr, "vsd: %s\n", err.msg);
		return 2;
	}
	return 0;
}

/* Create dir (0700 when new) and open it. */
static int open_subdir(int parent, const char *parent_path, const char *name, struct vs_error *err)
{
	int fd;

	if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
		return vs_error_set(err, errno, "create %s/%s", parent_path, name);
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, errno, "open %s/%s", parent_path, name);
	return fd;
}

/* An exclusive flock held for the life of the process (never closed). */
static int take_lock(const char *dir, const char *file, const char *what, struct vs_error *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return vs_error_set(err, errno, "open %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return vs_error_set(err, 0,
					    "another vsd is already running with %s %s (%s is "
					    "locked)",
					    what, dir, path);
		return vs_error_set(err, errno, "lock %s", path);
	}
	return steal_fd(&fd);
}

/* The run directory holds what CRIU opens from inside an unprivileged
 * container's user namespace, as the container's root (the console's devpts
 * under containers/NAME/console, restored with open_tree): that id is
 * "others" to every directory on the way, so each one above the run
 * directory must grant others search permission (the run directory itself
 * and what vsd makes below it get it from vsd: rt_rundir_prepare). Without
 * it containers start but every restore fails deep inside CRIU, so vsd
 * refuses to start, before it creates anything. The root directory is not
 * walked from inside a container (its containers/NAME stays 0700 and CRIU
 * reads images as host root), so it needs nothing. The checked path is the
 * run directory's real path where it exists (symbolic links resolved), else
 * that of its nearest existing ancestor. 0 or -1. */
static int check_run_dir_traversable(const char *run_dir, struct vs_error *err)
{
	char cwd[PATH_MAX], real[PATH_MAX];
	cleanup_free char *abs = NULL;
	cleanup_free char *probe = NULL;

	if (run_dir[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
		return vs_error_set(err, errno, "run directory %s: the current directory", run_dir);
	abs = run_dir[0] == '/' ? xstrdup(run_dir) : xasprintf("%s/%s", cwd, run_dir);
	/* The nearest existing ancestor (or the directory itself). */
	probe = xstrdup(abs);
	while (realpath(probe, real) == NULL) {
		char *slash = strrchr(probe, '/');
		if (errno != ENOENT || slash == NULL)
			return vs_error_set(err, errno, "run directory %s: resolve %s", run_dir,
					    probe);
		if (slash == probe) {
			strcpy(real, "/");
			break;
		}
		*slash = '\0';
	}
	/* Every component of real that lies above the run directory. */
	for (char *s = real;;) {
		struct stat st;
		char saved;
		char *next = strchr(s + 1, '/');
		bool whole = strcmp(probe, abs) == 0 && next == NULL;
		if (whole)
			break; /* the run directory itself: vsd makes it 0711 */
		saved = next ? *next : '\0';
		if (next)
			*next = '\0';
		if (stat(s == real && real[1] == '\0' ? "/" : real, &st) < 0)
			return vs_error_set(err, errno, "run directory %s: stat %s", run_dir, real);
		if ((st.st_mode & S_IXOTH) == 0)
			return vs_error_kind(err, VS_EK_INVALID,
					     "run directory %s: %s has mode %04o; containers' id "
					     "ranges must be able to traverse it (needs o+x)",
					     run_dir, real, (unsigned)(st.st_mode & 07777));
		if (!next)
			break;
		*next = saved;
		s = next;
	}
	return 0;
}

static int setup_dirs(struct vsd *d, const struct opts *o, struct vs_error *err)
{
	cleanup_close int root_fd = -1;
	char real[PATH_MAX];

	/* 0711: directories made on the way must let containers through too. */
	if (check_run_dir_traversable(o->run_dir, err) < 0 ||
	    vs_mkdir_p(o->run_dir, 0711, err) < 0 || vs_mkdir_p(o->root, 0700, err) < 0 ||
	    vs_mkdir_p(o->registry, 0700, err) < 0)
		return -1;
	if (take_lock(o->run_dir, "vsd.lock", "run dir", err) < 0)
		return -1;
	if (realpath(o->root, real) == NULL)
		return vs_error_set(err, errno, "resolve %s", o->root);
	if (strchr(real, '\n') != NULL)
		return vs_error_set(err, 0, "--root: a path with a newline is not supported");
	d->root = xstrdup(real);
	if (take_lock(d->root, ".lock", "root", err) < 0)
		return -1;
	root_fd = open(d->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return vs_error_set(err, errno, "open %s", d->root);
	d->templates_fd = open_subdir(root_fd, d->root, "templates", err);
	if (d->templates_fd < 0)
		return -1;
	d->containers_fd = open_subdir(root_fd, d->root, "containers", err);
	if (d->containers_fd < 0)
		return -1;
	if (realpath(o->registry, real) == NULL)
		return vs_error_set(err, errno, "resolve %s", o->registry);
	d->idmap_registry = xstrdup(real);
	d->run_dir = xstrdup(o->run_dir);
	if (realpath(o->run_dir, real) == NULL)
		return vs_error_set(err, errno, "resolve %s", o->run_dir);
	d->run_dir_real = xstrdup(real);
	return 0;
}

/* The API socket, mode 0600 from the moment it exists. */
static int make_socket(const char *path, struct vs_error *err)
{
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int r;

	if (fd < 0)
		return vs_error_set(err, errno, "socket");
	if (strlen(path) >= sizeof(sa.sun_path))
		return vs_error_set(err, 0, "socket path %s is longer than %zu bytes", path,
				    sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	/* We hold the run-dir lock, so a socket left here is stale. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return vs_error_set(err, 0, "%s exists and is not a socket", path);
		if (unlink(path) < 0)
			return vs_error_set(err, errno, "remove stale socket %s", path);
	}
	/* umask is process-wide, which is fine here: no thread exists yet.
	 * It keeps the socket from being connectable before the chmod. */
	old = umask(0077);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return vs_error_set(err, errno, "bind %s", path);
	if (chmod(path, 0600) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		unlink(path);
		return vs_error_set(err, e, "listen on %s", path);
	}
	return steal_fd(&fd);
}

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	if (write(signal_pipe[1], &c, 1) < 0) {
		/* Full pipe: a signal is pending already. */
	}
	errno = saved;
}

static int setup_signals(struct vs_error *err)
{
	struct sigaction sa = {0};

	/* Dead clients must not kill the daemon. (Children of vsd must reset
	 * SIGPIPE to default before exec: an ignored signal is inherited.) */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return vs_error_set(err, errno, "pipe");
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return vs_error_set(err, errno, "sigaction");
	return 0;
}

static int wait_for_signal(void)
{
	unsigned char c = 0;

	for (;;) {
		struct pollfd p = {.fd = signal_pipe[0], .events = POLLIN};
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return 0;
		if (read(signal_pipe[0], &c, 1) == 1)
			return c;
	}
}

/* Everything up to serving. 0 or -1 with err. */
/* Test hook: $VSD_TEST_TICKET_TTL_MS shortens (or lengthens) the life of
 * stream tickets, so a test can see one expire without waiting 30 s. */
static int64_t ticket_ttl_ms(void)
{
	const char *s = getenv("VSD_TEST_TICKET_TTL_MS");
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return VSD_TICKET_TTL_MS;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 3600 * 1000) {
		vsd_log("VSD_TEST_TICKET_TTL_MS: expected 1 to 3600000; using %d",
			VSD_TICKET_TTL_MS);
		return VSD_TICKET_TTL_MS;
	}
	return v;
}

/* Descriptors: vsd holds one per running container (the sampler's pidfd
 * of its init) besides its connections, so a thousand containers do not fit
 * in the usual soft limit of 1024. The soft limit is raised to the hard
 * one, as the service's LimitNOFILE=1048576 does for both; children
 * (monitors, and so containers) inherit it, as they do under the service. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		vsd_log("raise the descriptor limit to %llu: %s", (unsigned long long)rl.rlim_max,
			strerror(errno));
}

static int start(struct vsd *d, struct opts *o, struct vsd_server **srv, struct vs_error *err)
{
	int lfd;

	raise_nofile();
	if (setup_signals(err) < 0 || setup_dirs(d, o, err) < 0)
		return -1;
	d->socket_path = o->socket ? xstrdup(o->socket) : xasprintf("%s/vsd.sock", o->run_dir);
	d->default_disk = o->default_disk;
	d->cgroup_parent =
	    o->cgroup_parent ? xstrdup(o->cgroup_parent) : vsd_cgroup_parent_for(d->root);
	if (vs_cg_host_detect("/sys/fs/cgroup", &d->cg, err) < 0)
		return vs_error_prefix(err, "detect cgroups");
	if (vsd_node_facts(&d->node, err) < 0)
		return -1;
	d->mem_overcommit = o->mem_overcommit;
	d->inst.self_exe_fd = vs_rt_self_exe(err);
	if (d->inst.self_exe_fd < 0)
		return vs_error_prefix(err, "copy the vsd binary");
	d->inst.root = d->root;
	d->inst.run_dir = d->run_dir;
	d->inst.cgroup_parent = d->cgroup_parent;
	d->inst.cg = d->cg;
	vs_fs_import_caps_set(&o->import_caps);
	/* One set of caps for template and backup imports. */
	d->import_caps = vs_fs_import_caps_get();
	d->inst.criu_path = o->criu ? o->criu : vs_mig_default_criu();
	/* Probed in the background while recovery runs; requests that need
	 * the answer wait for it. */
	d->criu = vsd_criu_start(d->inst.criu_path);
	/* Before recovery: lxcfs survives vsd, so this normally finds the
	 * running one; containers never depend on it to start. */
	vsd_views_check(d, NULL);
	if (vsd_net_init(d, err) < 0)
		return -1;
	if (vsd_tokens_open(d->root, &d->tokens, err) < 0)
		return -1;
	d->tickets = vsd_tickets_new(ticket_ttl_ms(), VSD_TICKETS_MAX);
	if (vsd_pools_restore(d, err) < 0 || vsd_recover(d, err) < 0)
		return vs_error_prefix(err, "recovery");
	vsd_emit_owners(d);
	/* Node-side leftovers of containers that died while vsd was away;
	 * what cannot be removed now is logged and tried at the next start. */
	{
		struct vs_error e = {0};
		if (vsd_net_reconcile(d, &e) < 0)
			vsd_log("network reconciliation: %s", e.msg);
	}
	if (vsd_sampler_start(d, &o->idle, err) < 0)
		return -1;
	/* Credentials before any request can come in. */
	if (vsd_listen_load(d, &o->listen, err) < 0)
		return -1;
	/* With the node's certificate loaded: hold the containers of the
	 * migrations this node was the source of that are not settled, before
	 * either server serves (docs/migration.md, "A copy left behind": no
	 * request may act on them in between). Their targets are asked by
	 * threads, so a target that does not answer delays nothing else. */
	vsd_mig_recover_outgoing(d);
	if (vsd_listen_start(d, &o->listen, err) < 0)
		return -1;
	lfd = make_socket(d->socket_path, err);
	if (lfd < 0)
		return -1;
	if (vsd_server_start(d, lfd, vsd_routes, vsd_nroutes, srv, err) < 0) {
		unlink(d->socket_path);
		return -1;
	}
	return 0;
}

/* Let running suspend/resume/checkpoint/restore operations end: a CRIU
 * dump or restore cut short leaves work for recovery that waiting avoids. */
static void drain_cr_ops(struct vsd_ops *ops)
{
	size_t n = vsd_ops_running(ops, "container-");

	if (n == 0)
		return;
	vsd_log("waiting up to %d s for %zu checkpoint/restore operation(s)", VSD_CR_DRAIN_SECONDS,
		n);
	for (int i = 0; i < VSD_CR_DRAIN_SECONDS * 10 && n > 0; i++) {
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
		n = vsd_ops_running(ops, "container-");
	}
	if (n > 0)
		vsd_log("%zu checkpoint/restore operation(s) still running; exiting anyway", n);
}

struct vsd_tokens *vsd_auth_tokens(struct vsd *d)
{
	return d->tokens;
}

struct vsd_tickets *vsd_auth_tickets(struct vsd *d)
{
	return d->tickets;
}

const char *vsd_auth_root(struct vsd *d)
{
	return d->root;
}

int vsd_main(int argc, char **argv)
{
	struct opts o = {
	    .root = VSD_DEFAULT_ROOT,
	    .run_dir = VSD_DEFAULT_RUN_DIR,
	    .registry = VSD_DEFAULT_REGISTRY,
	    .mem_overcommit = 1.0,
	    .idle = {.enabled = true,
		     .interval_s = VSD_IDLE_DEFAULT_INTERVAL,
		     .cpu_threshold = VSD_IDLE_DEFAULT_THRESHOLD},
	};
	struct vsd d = {.containers_fd = -1, .templates_fd = -1, .inst.self_exe_fd = -1};
	struct vsd_server *srv = NULL;
	struct vs_error err = {0};
	int r, sig;

	o.d = &d;
	vsd_listen_init(&o.listen);
	r = parse_args(argc, argv, &o);
	if (r != 0)
		return r == 1 ? 0 : 2;
	vsd_log_set_debug(o.debug);
	pthread_mutex_init(&d.mutate, NULL);
	pthread_mutex_init(&d.streams_lock, NULL);
	pthread_mutex_init(&d.views_lock, NULL);
	d.names = vsd_names_new();
	d.index = vsd_index_new(VSD_INDEX_RACY_MS);
	d.status_cache = vsd_status_cache_new(VSD_INDEX_RACY_MS);
	d.ops = vsd_ops_new();
	vsd_events_init(&d);
	if (start(&d, &o, &srv, &err) < 0) {
		vsd_log("%s", err.msg);
		return 1;
	}
	vsd_log("vsd %s serving %s (root %s, cgroup parent %s, cgroups %s)", VSD_VERSION,
		d.socket_path, d.root, d.cgroup_parent, vs_cg_host_describe(d.cg));
	sig = wait_for_signal();
	vsd_log("%s: shutting down, containers keep running", strsignal(sig));
	/* Stop accepting, wake the streams (MHD waits for upgraded
	 * connections), then let running requests finish. */
	vsd_server_quiesce(srv);
	vsd_listen_quiesce(&o.listen);
	vsd_streams_stop(&d);
	/* Event streams wait in their connection threads: end them, so
	 * that the server can join those threads. */
	vsd_events_stop(d.events);
	vsd_server_stop(srv);
	vsd_listen_stop(&d, &o.listen);
	unlink(d.socket_path);
	drain_cr_ops(d.ops);
	vsd_sampler_stop(d.sampler);
	vsd_criu_free(d.criu);
	/* Operation workers may still run (a template build is abandoned and
	 * cleaned up by the next start), so the rest is left to exit(). */
	return 0;
}
