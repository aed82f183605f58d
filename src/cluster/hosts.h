/*
 * hosts.h — the hosts of `cluster create --hosts N`: N network namespaces on a bridge of their own, for
 * a cluster laid out as on N machines, on one machine (root only).
 *
 * Addresses come from 198.18.0.0/24 (reserved for network benchmarks), one /28 block a cluster, so that
 * two clusters (and tests) on one machine never share an address or a route:
 *   block B = 198.18.0.(16*B)/28, the bridge (the CLI's address) .16B+1, host i .16B+2+i
 * Names are derived from the cluster directory (tag: 8 hex digits of its hash), at most 15 bytes each:
 *   bridge pgr-TAG, namespace pgr-TAG-hI, veth pgrTAGvI (root side; eth0 inside the namespace).
 * Every host has its directory DIR/hosts/hI, laid out as a machine's would be.
 */
#ifndef PGR_CLUSTER_HOSTS_H
#define PGR_CLUSTER_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define HOSTS_MIN 3
#define HOSTS_MAX 5
#define HOSTS_BLOCKS 16 /* /28 blocks in 198.18.0.0/24 */
#define HOSTS_SLOTS 13  /* host addresses in a block: .16B+2 .. .16B+14 (add-unit makes hosts past create's) */

/* The network of one cluster's hosts: what `ip` makes, and what pgrefresh.conf records of it. */
typedef struct hosts_net {
	char tag[16];    /* 8 hex digits */
	char bridge[16]; /* pgr-TAG */
	int block;       /* 0 .. HOSTS_BLOCKS-1 */
	int count;       /* hosts made by create: h0 .. h(count-1) */
	unsigned mask;   /* the hosts there are: bit i for host hI (add-unit and remove-unit change it) */
} hosts_net;

/* The tag of a cluster directory (a hash of its real path): 8 lowercase hex digits. */
void hosts_tag(const char *dir, char *tag, size_t len);
/* net's bridge name from its tag; its hosts h0 .. h(count-1). */
void hosts_net_init(hosts_net *net, const char *tag, int block, int count);
/* The first /28 block none of used[] (IPv4 addresses in host order, of this machine) falls in; -1 if none. */
int hosts_pick_block(const uint32_t *used, int used_count);
/* Addresses as text: the block's network "198.18.0.16/28", the bridge's, host i's. */
void hosts_cidr(const hosts_net *net, char *buf, size_t len);
void hosts_bridge_addr(const hosts_net *net, char *buf, size_t len);
void hosts_addr(const hosts_net *net, int i, char *buf, size_t len);
/* Parses "198.18.0.16/28" back into a block; -1 if it is not one of ours. */
int hosts_block_of_cidr(const char *cidr);
/* Names of host i's namespace and veth (root side). */
void hosts_netns_name(const hosts_net *net, int i, char *buf, size_t len);
void hosts_veth_name(const hosts_net *net, int i, char *buf, size_t len);
/* DIR/hosts/hI */
void hosts_dir(const char *cluster_dir, int i, char *buf, size_t len);

/* Whether etcd (endpoints "scheme://addr:port,...") has one at address host: that host runs an etcd member. */
bool hosts_etcd_has(const char *etcd, const char *host);
/* etcd's endpoints with host's (if any) first, the others in their order: a host asks its own member first.
 * -1 when they do not fit in len. */
int hosts_etcd_own_first(const char *etcd, const char *host, char *out, size_t len);

/* 0 when this process may make namespaces (root); else a clear error. */
int hosts_check_root(pgr_err *err) __attribute__((warn_unused_result));
/* Picks a free block for a new cluster in dir: none of this machine's addresses in it. */
int hosts_plan(const char *dir, int count, hosts_net *net, pgr_err *err) __attribute__((warn_unused_result));
/* Makes whatever is missing: the bridge with its address, each namespace with loopback up, its veth
 * on the bridge and its address. Idempotent (cluster start after a reboot). */
int hosts_up(const hosts_net *net, pgr_err *err) __attribute__((warn_unused_result));
/* Removes the namespaces, veths and the bridge (each only if it is there). */
int hosts_down(const hosts_net *net, pgr_err *err) __attribute__((warn_unused_result));
/* One host hI: its namespace, veth on the bridge (which must exist) and address; idempotent. */
int hosts_host_up(const hosts_net *net, int i, pgr_err *err) __attribute__((warn_unused_result));
/* One host hI: its namespace and its veth, each only if it is there. */
int hosts_host_down(const hosts_net *net, int i, pgr_err *err) __attribute__((warn_unused_result));
/* Whether host i's namespace exists. */
bool hosts_netns_exists(const hosts_net *net, int i);

#endif
