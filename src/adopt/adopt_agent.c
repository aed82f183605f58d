#include "adopt/adopt_agent.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/proc.h"

/* s without its trailing '/'s: its length */
static size_t trimmed_len(const char *s)
{
	size_t n = strlen(s);

	while (n > 1 && s[n - 1] == '/')
		n--;
	return n;
}

static bool plain_instance(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

adopt_agent_how adopt_agent_decide(bool systemd_pid1, bool unit_installed, const char *confdir, const char *conf_root,
				   char *instance, size_t len)
{
	size_t dn = trimmed_len(confdir), rn = trimmed_len(conf_root);
	const char *name;

	instance[0] = '\0';
	if (!systemd_pid1 || !unit_installed)
		return ADOPT_AGENT_SELF;
	if (dn <= rn + 1 || strncmp(confdir, conf_root, rn) != 0 || confdir[rn] != '/')
		return ADOPT_AGENT_SELF;
	name = confdir + rn + 1;
	if (memchr(name, '/', dn - rn - 1) != NULL || !plain_instance(name, dn - rn - 1) || dn - rn - 1 >= len)
		return ADOPT_AGENT_SELF;
	snprintf(instance, len, "%.*s", (int)(dn - rn - 1), name);
	return ADOPT_AGENT_SYSTEMD;
}

void adopt_agent_facts(bool *systemd_pid1, bool *unit_installed)
{
	static const char *const dirs[] = { "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
					    "/usr/lib/systemd/system", "/lib/systemd/system" };
	struct stat st;

	*systemd_pid1 = lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
	*unit_installed = false;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !*unit_installed; i++) {
		char path[256];

		snprintf(path, sizeof(path), "%s/%s", dirs[i], ADOPT_AGENT_UNIT);
		*unit_installed = access(path, F_OK) == 0;
	}
}

int adopt_agent_systemctl(const char *verb, const char *instance, pgr_err *err)
{
	char unit[160], out[2048];
	/* merged /usr has both; an older system only /bin's */
	char *argv[] = { access("/usr/bin/systemctl", X_OK) == 0 ? "/usr/bin/systemctl" : "/bin/systemctl", (char *)verb,
			 "--now", unit, NULL };
	int status = 0;

	snprintf(unit, sizeof(unit), "pgrefresh-agent@%s.service", instance);
	if (proc_run(argv, NULL, 60000, out, sizeof(out), &status, err) != 0)
		return pgr_err_prefix(err, "systemctl %s --now %s", verb, unit);
	if (status != 0) {
		out[strcspn(out, "\n")] = '\0';
		return pgr_err_set(err, "systemctl %s --now %s failed (exit %d): %s", verb, unit, status, out);
	}
	return 0;
}
