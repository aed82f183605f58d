#include "cluster/hosts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/fileutil.h"
#include "util/proc.h"

#define IP_BIN "/usr/sbin/ip"
#define NET_BASE 0xC6120000u /* 198.18.0.0 */
#define BLOCK_SIZE 16
#define BLOCK_PREFIX 28

void hosts_tag(const char *dir, char *tag, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)dir; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	snprintf(tag, len, "%08x", (unsigned)h);
}

void hosts_net_init(hosts_net *net, const char *tag, int block, int count)
{
	memset(net, 0, sizeof(*net));
	snprintf(net->tag, sizeof(net->tag), "%.8s", tag);
	snprintf(net->bridge, sizeof(net->bridge), "pgr-%.8s", tag);
	net->block = block;
	net->count = count;
	net->mask = count > 0 ? (1u << count) - 1u : 0u;
}

int hosts_pick_block(const uint32_t *used, int used_count)
{
	for (int b = 0; b < HOSTS_BLOCKS; b++) {
		uint32_t lo = NET_BASE + (uint32_t)(b * BLOCK_SIZE);
		bool taken = false;

		for (int i = 0; i < used_count; i++)
			if (used[i] >= lo && used[i] < lo + BLOCK_SIZE)
				taken = true;
		if (!taken)
			return b;
	}
	return -1;
}

static void addr_text(uint32_t a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", (a >> 24) & 255u, (a >> 16) & 255u, (a >> 8) & 255u, a & 255u);
}

void hosts_cidr(const hosts_net *net, char *buf, size_t len)
{
	char a[20];

	addr_text(NET_BASE + (uint32_t)(net->block * BLOCK_SIZE), a, sizeof(a));
	snprintf(buf, len, "%s/%d", a, BLOCK_PREFIX);
}

void hosts_bridge_addr(const hosts_net *net, char *buf, size_t len)
{
	addr_text(NET_BASE + (uint32_t)(net->block * BLOCK_SIZE) + 1u, buf, len);
}

void hosts_addr(const hosts_net *net, int i, char *buf, size_t len)
{
	addr_text(NET_BASE + (uint32_t)(net->block * BLOCK_SIZE) + 2u + (uint32_t)i, buf, len);
}

int hosts_block_of_cidr(const char *cidr)
{
	for (int b = 0; b < HOSTS_BLOCKS; b++) {
		hosts_net net;
		char text[32];

		hosts_net_init(&net, "", b, 0);
		hosts_cidr(&net, text, sizeof(text));
		if (strcmp(text, cidr) == 0)
			return b;
	}
	return -1;
}

void hosts_netns_name(const hosts_net *net, int i, char *buf, size_t len)
{
	snprintf(buf, len, "pgr-%s-h%d", net->tag, i);
}

void hosts_veth_name(const hosts_net *net, int i, char *buf, size_t len)
{
	snprintf(buf, len, "pgr%sv%d", net->tag, i);
}

void hosts_dir(const char *cluster_dir, int i, char *buf, size_t len)
{
	snprintf(buf, len, "%s/hosts/h%d", cluster_dir, i);
}

bool hosts_etcd_has(const char *etcd, const char *host)
{
	char needle[80];

	snprintf(needle, sizeof(needle), "//%s:", host);
	return strstr(etcd, needle) != NULL;
}

int hosts_etcd_own_first(const char *etcd, const char *host, char *out, size_t len)
{
	char needle[80];
	size_t used = 0;

	snprintf(needle, sizeof(needle), "//%s:", host);
	if (len == 0)
		return -1;
	out[0] = '\0';
	for (int pass = 0; pass < 2; pass++) {
		const char *ep = etcd;

		while (*ep != '\0') {
			size_t n = strcspn(ep, ",");
			bool own = memmem(ep, n, needle, strlen(needle)) != NULL;

			if (n > 0 && own == (pass == 0)) {
				int w = snprintf(out + used, len - used, "%s%.*s", used ? "," : "", (int)n, ep);

				if (w < 0 || (size_t)w >= len - used)
					return -1;
				used += (size_t)w;
			}
			ep += n;
			if (*ep == ',')
				ep++;
		}
	}
	return 0;
}

int hosts_check_root(pgr_err *err)
{
	if (geteuid() != 0) {
		pgr_err_set(err, "--hosts needs root: the hosts are network namespaces on a bridge");
		pgr_err_hint(err, "run `sudo pgrefresh cluster create --hosts 3 ...`, or leave out --hosts for a cluster on "
				  "127.0.0.1");
		return -1;
	}
	if (!path_is_executable(IP_BIN)) {
		pgr_err_set(err, "%s is missing (Debian package iproute2)", IP_BIN);
		pgr_err_hint(err, "run scripts/install-deps (as root) or `apt-get install iproute2`");
		return -1;
	}
	return 0;
}

int hosts_plan(const char *dir, int count, hosts_net *net, pgr_err *err)
{
	struct ifaddrs *ifa = NULL;
	uint32_t used[256];
	int n = 0, block;
	char tag[16];

	if (count < HOSTS_MIN || count > HOSTS_MAX)
		return pgr_err_set(err, "--hosts must be between %d and %d", HOSTS_MIN, HOSTS_MAX);
	if (getifaddrs(&ifa) != 0)
		return pgr_err_set(err, "could not list this machine's addresses: %s", strerror(errno));
	for (struct ifaddrs *p = ifa; p != NULL && n < (int)(sizeof(used) / sizeof(used[0])); p = p->ifa_next) {
		if (p->ifa_addr != NULL && p->ifa_addr->sa_family == AF_INET)
			used[n++] = ntohl(((const struct sockaddr_in *)(const void *)p->ifa_addr)->sin_addr.s_addr);
	}
	freeifaddrs(ifa);
	block = hosts_pick_block(used, n);
	if (block < 0)
		return pgr_err_set(err, "every /28 block of 198.18.0.0/24 is in use on this machine (%d clusters of hosts?)",
				   HOSTS_BLOCKS);
	hosts_tag(dir, tag, sizeof(tag));
	hosts_net_init(net, tag, block, count);
	if (if_nametoindex(net->bridge) != 0)
		return pgr_err_set(err, "a bridge %s exists already (another cluster in %s?)", net->bridge, dir);
	return 0;
}

/* Runs `ip ARGS...`; a failure names the command and what ip said. */
static int ip_run(pgr_err *err, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
		  const char *a6, const char *a7, const char *a8, const char *a9, const char *a10)
{
	const char *args[] = { IP_BIN, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, NULL };
	char out[512], cmd[512] = "ip";
	int status = 0;

	for (int i = 1; args[i] != NULL; i++) {
		size_t used = strlen(cmd);

		snprintf(cmd + used, sizeof(cmd) - used, " %s", args[i]);
	}
	if (proc_run((char *const *)args, NULL, 10000, out, sizeof(out), &status, err) != 0)
		return pgr_err_prefix(err, "%s", cmd);
	if (status != 0) {
		out[strcspn(out, "\n")] = '\0';
		return pgr_err_set(err, "`%s` failed (exit %d): %s", cmd, status, out);
	}
	return 0;
}

bool hosts_netns_exists(const hosts_net *net, int i)
{
	char ns[32], path[64];

	hosts_netns_name(net, i, ns, sizeof(ns));
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	return path_exists(path);
}

int hosts_host_up(const hosts_net *net, int i, pgr_err *err)
{
	char ns[32], veth[32], addr[40], cidr[40];

	hosts_netns_name(net, i, ns, sizeof(ns));
	hosts_veth_name(net, i, veth, sizeof(veth));
	hosts_addr(net, i, addr, sizeof(addr));
	snprintf(cidr, sizeof(cidr), "%s/%d", addr, BLOCK_PREFIX);
	if (!hosts_netns_exists(net, i) && ip_run(err, "netns", "add", ns, NULL, NULL, NULL, NULL, NULL, NULL, NULL) != 0)
		return -1;
	if (ip_run(err, "-n", ns, "link", "set", "lo", "up", NULL, NULL, NULL, NULL) != 0)
		return -1;
	if (if_nametoindex(veth) == 0 &&
	    ip_run(err, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns) != 0)
		return -1;
	if (ip_run(err, "link", "set", veth, "master", net->bridge, "up", NULL, NULL, NULL, NULL) != 0 ||
	    ip_run(err, "-n", ns, "addr", "replace", cidr, "dev", "eth0", NULL, NULL, NULL) != 0 ||
	    ip_run(err, "-n", ns, "link", "set", "eth0", "up", NULL, NULL, NULL, NULL) != 0)
		return -1;
	return 0;
}

int hosts_up(const hosts_net *net, pgr_err *err)
{
	char addr[40], cidr[40];

	if (hosts_check_root(err) != 0)
		return -1;
	hosts_bridge_addr(net, addr, sizeof(addr));
	snprintf(cidr, sizeof(cidr), "%s/%d", addr, BLOCK_PREFIX);
	if (if_nametoindex(net->bridge) == 0 &&
	    ip_run(err, "link", "add", net->bridge, "type", "bridge", NULL, NULL, NULL, NULL, NULL) != 0)
		return -1;
	if (ip_run(err, "addr", "replace", cidr, "dev", net->bridge, NULL, NULL, NULL, NULL, NULL) != 0 ||
	    ip_run(err, "link", "set", net->bridge, "up", NULL, NULL, NULL, NULL, NULL, NULL) != 0)
		return -1;
	for (int i = 0; i < HOSTS_SLOTS; i++)
		if ((net->mask & (1u << i)) != 0 && hosts_host_up(net, i, err) != 0)
			return pgr_err_prefix(err, "host h%d", i);
	return 0;
}

int hosts_host_down(const hosts_net *net, int i, pgr_err *err)
{
	char ns[32], veth[32];
	int rc = 0;

	hosts_netns_name(net, i, ns, sizeof(ns));
	hosts_veth_name(net, i, veth, sizeof(veth));
	if (hosts_netns_exists(net, i) && ip_run(err, "netns", "delete", ns, NULL, NULL, NULL, NULL, NULL, NULL, NULL) != 0)
		rc = -1;
	/* the veth goes with its peer in the namespace, a moment later; one left behind (a namespace
	 * removed by hand) is removed here */
	for (int waited = 0; waited < 2000 && if_nametoindex(veth) != 0; waited += 50)
		proc_sleep_ms(50);
	if (if_nametoindex(veth) != 0 && ip_run(err, "link", "delete", veth, NULL, NULL, NULL, NULL, NULL, NULL, NULL) != 0 &&
	    if_nametoindex(veth) != 0)
		rc = -1;
	return rc;
}

int hosts_down(const hosts_net *net, pgr_err *err)
{
	int rc = 0;

	/* every slot: a host removed from pgrefresh.conf half-way is removed here too */
	for (int i = 0; i < HOSTS_SLOTS; i++)
		if (hosts_host_down(net, i, err) != 0)
			rc = -1;
	if (if_nametoindex(net->bridge) != 0 &&
	    ip_run(err, "link", "delete", net->bridge, "type", "bridge", NULL, NULL, NULL, NULL, NULL) != 0)
		rc = -1;
	return rc;
}
