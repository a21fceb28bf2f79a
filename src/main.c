/* smsguard: flags, then the daemon. It never forks; systemd supervises it. */
#define LOG_TAG "main"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "smsguard-build.h"
#include "daemon.h"
#include "smsguard/config.h"
#include "smsguard/credentials.h"
#include "smsguard/log.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: smsguard [-nvVh] [-f FILE]\n"
	    "  -f FILE    configuration file (default %s)\n"
	    "  -n         check the configuration and credentials, then exit\n"
	    "  -v         more verbose (debug)\n"
	    "  -V, --version\n"
	    "  -h, --help\n",
	    SMSGUARD_CONF_PATH);
}

static int
check_config(const char *path)
{
	struct config *cfg = NULL;
	struct credentials *cr = NULL;
	char *cause = NULL;

	if (config_load(path, &cfg, &cause) < 0 || credentials_load(cfg, &cr, &cause) < 0) {
		fprintf(stderr, "%s\n", cause != NULL ? cause : "invalid configuration");
		free(cause);
		config_free(cfg);
		return 1;
	}
	credentials_free(cr);
	config_free(cfg);
	printf("configuration OK\n");
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = SMSGUARD_CONF_PATH;
	struct rlimit nocore = {0, 0};
	int ch, check = 0, verbose = 0;

	/* The AK/SK live in memory: no core dump may carry them (DESIGN.md §6). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &nocore);

	while ((ch = getopt_long(argc, argv, "f:nvVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("smsguard %s\n", SMSGUARD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	if (check)
		return check_config(path);
	return daemon_run(path, verbose);
}
