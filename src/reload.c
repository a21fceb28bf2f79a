/*
 * Reload (SIGHUP, `smsguardctl reload`): the configuration and the
 * credentials are read afresh and kept only when both are valid; then every
 * module gets the new ones before the old are freed. A bad file leaves the
 * running configuration as it was.
 */
#define LOG_TAG "reload"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "smsguard/agent.h"
#include "smsguard/cloud.h"
#include "smsguard/ctl.h"
#include "smsguard/executor.h"
#include "smsguard/log.h"
#include "smsguard/notify.h"
#include "smsguard/preflight.h"
#include "smsguard/probe.h"
#include "smsguard/ratelimit.h"
#include "smsguard/sdnotify.h"
#include "smsguard/taskpoll.h"

/* A textfile left where smsguard no longer writes would read as a stopped smsguard. */
static void
textfile_moved(const struct config *old, const struct config *cfg)
{
	if (old->metrics_textfile == NULL)
		return;
	if (cfg->metrics_textfile != NULL &&
	    strcmp(cfg->metrics_textfile, old->metrics_textfile) == 0)
		return;
	if (unlink(old->metrics_textfile) != 0 && errno != ENOENT)
		log_warn("cannot remove the old metrics textfile %s", old->metrics_textfile);
}

int
reload_run(struct daemon *d, char **cause)
{
	struct config *cfg = NULL;
	struct credentials *cr = NULL;
	int r;

	sdnotify("RELOADING=1");
	if ((r = config_load(d->config_path, &cfg, cause)) < 0 ||
	    (r = credentials_load(cfg, &cr, cause)) < 0) {
		config_free(cfg);
		log_warnx("reload failed, keeping the running configuration: %s", *cause);
		sdnotify("READY=1");
		return r;
	}
	if (strcmp(cfg->socket_path, d->cfg->socket_path) != 0)
		log_warnx("[control] socket changed: takes effect at the next start");
	if (strcmp(cfg->state_dir, d->cfg->state_dir) != 0)
		log_warnx("[daemon] state_dir changed: takes effect at the next start");
	if (!d->verbose)
		log_setlevel((enum log_level)cfg->log_level);
	ctl_set_group(d->ctl, cfg->has_gid, cfg->gid);
	/* Every module borrows the config: hand the new one to all before freeing the old. */
	taskpoll_reconfigure(d->poll, cfg, cloud_reconfigure(d->cloud, cfg, cr));
	probe_reconfigure(d->probe, cfg);
	agent_reconfigure(d->agent, cfg, cr);
	executor_reconfigure(d->exec, cfg);
	ratelimit_reconfigure(d->rl, cfg, d->cloud);
	preflight_reconfigure(d->pf, cfg);
	textfile_moved(d->cfg, cfg);
	notify_reconfigure(d->notify, cfg);
	config_free(d->cfg);
	credentials_free(d->creds);
	d->cfg = cfg;
	d->creds = cr;
	status_write_textfile(d, true);
	log_info("configuration reloaded from %s", d->config_path);
	sdnotify("READY=1");
	return 0;
}
