/*
 * adopt_agent.h — who runs an adopted unit's agent. Where systemd is PID 1 and pgrefresh-agent@.service is
 * installed, and the conf dir is the one that service reads (/etc/pgrefresh/INSTANCE), systemd does:
 * adopt runs `systemctl enable --now pgrefresh-agent@INSTANCE`, unadopt `systemctl disable --now`.
 * Elsewhere (a container, a CI machine, a conf dir of its own) adopt starts the agent itself, as
 * `cluster create` does.
 */
#ifndef PGR_ADOPT_ADOPT_AGENT_H
#define PGR_ADOPT_ADOPT_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define ADOPT_AGENT_UNIT "pgrefresh-agent@.service"

typedef enum adopt_agent_how {
	ADOPT_AGENT_SELF,    /* pgrefresh starts and stops it (local_agent_start/stop) */
	ADOPT_AGENT_SYSTEMD, /* pgrefresh-agent@INSTANCE */
} adopt_agent_how;

/*
 * The decision, pure: systemd when systemd_pid1 and unit_installed and confdir is conf_root/INSTANCE with
 * INSTANCE a plain name (letters, digits, '.', '_', '-': no systemd escaping needed); then instance holds
 * INSTANCE. A trailing '/' of confdir or conf_root is ignored.
 */
adopt_agent_how adopt_agent_decide(bool systemd_pid1, bool unit_installed, const char *confdir, const char *conf_root,
				   char *instance, size_t len);
/* This host's facts: systemd is PID 1 (/run/systemd/system is a directory: sd_booted(3)'s test) and
 * ADOPT_AGENT_UNIT is in one of systemd's unit directories. */
void adopt_agent_facts(bool *systemd_pid1, bool *unit_installed);
/* `systemctl VERB --now pgrefresh-agent@INSTANCE` (VERB enable or disable); its output in err on failure. */
int adopt_agent_systemctl(const char *verb, const char *instance, pgr_err *err) __attribute__((warn_unused_result));

#endif
