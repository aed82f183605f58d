#include "state/lease.h"

#include <string.h>

/* etcd's ErrGRPCLeaseNotFound, as its JSON gateway answers it (gRPC code 5, HTTP 404) */
#define LEASE_NOT_FOUND_TEXT "requested lease not found"

int state_lease_grant(const etcd_client *etcd, int ttl_s, int64_t *lease, pgr_err *err)
{
	*lease = 0;
	if (ttl_s < 1 || ttl_s > 3600)
		return pgr_err_set(err, "a lease of %d s: out of 1..3600", ttl_s);
	return etcd_lease_grant(etcd, ttl_s, lease, err);
}

int state_lease_renew(const etcd_client *etcd, int64_t lease, bool *alive, pgr_err *err)
{
	int64_t ttl = 0;

	*alive = false;
	if (etcd_lease_keepalive(etcd, lease, &ttl, err) != 0)
		return -1;
	*alive = ttl > 0;
	return 0;
}

int state_lease_revoke(const etcd_client *etcd, int64_t lease, pgr_err *err)
{
	return lease == 0 ? 0 : etcd_lease_revoke(etcd, lease, err);
}

int state_lease_alive(const etcd_client *etcd, int64_t lease, bool *alive, pgr_err *err)
{
	int64_t ttl = 0;

	*alive = false;
	if (lease == 0)
		return 0;
	if (etcd_lease_ttl(etcd, lease, &ttl, err) != 0)
		return -1;
	*alive = ttl > 0;
	return 0;
}

bool state_lease_err_gone(const pgr_err *err)
{
	return err != NULL && strstr(err->msg, LEASE_NOT_FOUND_TEXT) != NULL;
}
