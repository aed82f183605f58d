/*
 * pki.h — the certificate authority of a cluster pgrefresh makes (`cluster create --secure`), with
 * libcrypto: a self-signed CA, and per host a server certificate (SAN = the host's address; etcd peers,
 * Patroni's REST API, PostgreSQL) and client certificates (no CN: etcd 3.4's JSON gateway refuses a client
 * certificate with a CN when authentication is on). Keys are EC P-256, written PEM (PKCS#8) in 0600 files;
 * certificates 0644. Files are written durably (temp file, fsync, rename). Also the SCRAM secrets of the
 * passwords PgBouncer keeps in its auth_file.
 */
#ifndef PGR_CLUSTER_PKI_H
#define PGR_CLUSTER_PKI_H

#include <stdbool.h>

#include "util/err.h"

/* What a certificate is for: its extended key usage (a server certificate serves etcd's peers too, which
 * present it as clients, so it carries both). */
typedef enum pki_usage {
	PKI_SERVER, /* serverAuth + clientAuth, SAN IP = the host's address, CN = the host's address */
	PKI_CLIENT, /* clientAuth only, no CN, no SAN */
} pki_usage;

/* Makes CERT_PATH (0644) and KEY_PATH (0600): a self-signed CA named cn, valid days days. */
int pki_ca_create(const char *cert_path, const char *key_path, const char *cn, int days, pgr_err *err)
	__attribute__((warn_unused_result));

/* Makes CERT_PATH (0644) and KEY_PATH (0600) signed by the CA in CA_CERT/CA_KEY. address: the host's IP
 * address (IPv4 or IPv6, a SAN; required for PKI_SERVER, ignored for PKI_CLIENT). */
int pki_cert_issue(const char *ca_cert, const char *ca_key, pki_usage usage, const char *address, int days,
		   const char *cert_path, const char *key_path, pgr_err *err) __attribute__((warn_unused_result));

/* Verifies CERT_PATH against the CA in CA_CERT (X509_verify_cert); address non-NULL: and that its SAN
 * holds that IP address. The error names the reason OpenSSL gives. */
int pki_cert_verify(const char *ca_cert, const char *cert_path, const char *address, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * A SCRAM-SHA-256 secret of password (RFC 5802/7677, as PostgreSQL and PgBouncer store them:
 * "SCRAM-SHA-256$ITER:SALT$STOREDKEY:SERVERKEY", base64) into out. salt NULL: 16 random bytes. password is
 * used as given (no SASLprep: the cluster's passwords are ASCII).
 */
int pki_scram_secret(const char *password, const unsigned char *salt, size_t salt_len, int iterations, char *out,
		     size_t outlen, pgr_err *err) __attribute__((warn_unused_result));

#endif
