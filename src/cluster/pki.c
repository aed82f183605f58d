#include "cluster/pki.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/fileutil.h"

/* The reason OpenSSL queued for the last failure (and the queue emptied), into err after what. */
static int ssl_fail(pgr_err *err, const char *what)
{
	unsigned long code = ERR_get_error();
	char reason[256] = "no reason given";

	if (code != 0)
		ERR_error_string_n(code, reason, sizeof(reason));
	ERR_clear_error();
	return pgr_err_set(err, "%s: %s", what, reason);
}

/* Writes cert and/or key as PEM to path, durably, with mode; the memory that held them is wiped. */
static int pem_write(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key, pgr_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	int rc;

	if (bio == NULL)
		return ssl_fail(err, "out of memory");
	if ((cert != NULL && PEM_write_bio_X509(bio, cert) != 1) ||
	    (key != NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)) {
		BIO_free(bio);
		return ssl_fail(err, path);
	}
	len = BIO_get_mem_data(bio, &data);
	rc = file_write_durable(path, data, (size_t)len, mode, err);
	OPENSSL_cleanse(data, (size_t)len);
	BIO_free(bio);
	return rc;
}

/* Reads a PEM certificate (cert non-NULL) or private key (key non-NULL) from path. */
static int pem_read(const char *path, X509 **cert, EVP_PKEY **key, pgr_err *err)
{
	BIO *bio = BIO_new_file(path, "r");
	bool read;

	if (bio == NULL)
		return ssl_fail(err, path);
	if (cert != NULL)
		*cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	else
		*key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	read = cert != NULL ? *cert != NULL : *key != NULL;
	BIO_free(bio);
	return read ? 0 : ssl_fail(err, path);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value, pgr_err *err)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return ssl_fail(err, value);
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : ssl_fail(err, value);
}

/* A certificate for key, without extensions or signature: version 3, a random 127-bit serial, valid from
 * an hour ago (clocks of hosts differ a little) for days, subject O=pgrefresh and CN=cn when cn is given. */
static int cert_base(EVP_PKEY *key, const char *cn, int days, X509 **out, pgr_err *err)
{
	X509 *cert = X509_new();
	BIGNUM *serial = BN_new();
	X509_NAME *name;

	*out = NULL;
	if (cert == NULL || serial == NULL)
		goto fail;
	if (X509_set_version(cert, 2) != 1 || BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL) == NULL || X509_set_pubkey(cert, key) != 1)
		goto fail;
	name = X509_get_subject_name(cert);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"pgrefresh", -1, -1, 0) != 1)
		goto fail;
	if (cn != NULL &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) != 1)
		goto fail;
	BN_free(serial);
	*out = cert;
	return 0;
fail:
	BN_free(serial);
	X509_free(cert);
	return ssl_fail(err, "could not make a certificate");
}

/* Signs cert with signer (SHA-256), then writes key (0600) and cert (0644): the key first, since a
 * certificate without its key is of no use. */
static int sign_and_write(X509 *cert, EVP_PKEY *signer, EVP_PKEY *key, const char *cert_path, const char *key_path,
			  pgr_err *err)
{
	if (X509_sign(cert, signer, EVP_sha256()) == 0)
		return ssl_fail(err, "could not sign a certificate");
	if (pem_write(key_path, 0600, NULL, key, err) != 0 || pem_write(cert_path, 0644, cert, NULL, err) != 0)
		return -1;
	return 0;
}

int pki_ca_create(const char *cert_path, const char *key_path, const char *cn, int days, pgr_err *err)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = NULL;
	int rc = -1;

	if (key == NULL)
		return ssl_fail(err, "could not make the CA's key");
	if (cert_base(key, cn, days, &cert, err) != 0)
		goto out;
	if (X509_set_issuer_name(cert, X509_get_subject_name(cert)) != 1) {
		ssl_fail(err, "could not make the CA");
		goto out;
	}
	if (add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE", err) != 0 ||
	    add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign", err) != 0 ||
	    add_ext(cert, cert, NID_subject_key_identifier, "hash", err) != 0)
		goto out;
	rc = sign_and_write(cert, key, key, cert_path, key_path, err);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int pki_cert_issue(const char *ca_cert, const char *ca_key, pki_usage usage, const char *address, int days,
		   const char *cert_path, const char *key_path, pgr_err *err)
{
	unsigned char ip[16];
	char san[96];
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	bool server = usage == PKI_SERVER;
	int rc = -1;

	if (server && (address == NULL || (inet_pton(AF_INET, address, ip) != 1 && inet_pton(AF_INET6, address, ip) != 1)))
		return pgr_err_set(err, "a server certificate needs the host's IP address (got \"%s\")",
				   address ? address : "");
	if (pem_read(ca_cert, &ca, NULL, err) != 0 || pem_read(ca_key, NULL, &cakey, err) != 0)
		goto out;
	key = EVP_EC_gen("P-256");
	if (key == NULL) {
		ssl_fail(err, "could not make a key");
		goto out;
	}
	if (cert_base(key, server ? address : NULL, days, &cert, err) != 0)
		goto out;
	if (X509_set_issuer_name(cert, X509_get_subject_name(ca)) != 1) {
		ssl_fail(err, "could not make a certificate");
		goto out;
	}
	snprintf(san, sizeof(san), "IP:%s", server ? address : "");
	if (add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE", err) != 0 ||
	    add_ext(cert, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment", err) != 0 ||
	    add_ext(cert, ca, NID_ext_key_usage, server ? "serverAuth,clientAuth" : "clientAuth", err) != 0 ||
	    add_ext(cert, ca, NID_subject_key_identifier, "hash", err) != 0 ||
	    add_ext(cert, ca, NID_authority_key_identifier, "keyid:always", err) != 0 ||
	    (server && add_ext(cert, ca, NID_subject_alt_name, san, err) != 0))
		goto out;
	rc = sign_and_write(cert, cakey, key, cert_path, key_path, err);
out:
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	return rc;
}

int pki_cert_verify(const char *ca_cert, const char *cert_path, const char *address, pgr_err *err)
{
	X509 *ca = NULL, *cert = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	int rc = -1;

	if (pem_read(ca_cert, &ca, NULL, err) != 0 || pem_read(cert_path, &cert, NULL, err) != 0)
		goto out;
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (store == NULL || ctx == NULL || X509_STORE_add_cert(store, ca) != 1 ||
	    X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
		ssl_fail(err, "out of memory");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		pgr_err_set(err, "%s not trusted by CA file %s: %s", cert_path, ca_cert,
			    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		ERR_clear_error();
		goto out;
	}
	if (address != NULL && X509_check_ip_asc(cert, address, 0) != 1) {
		pgr_err_set(err, "%s is not for address %s", cert_path, address);
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(cert);
	X509_free(ca);
	return rc;
}

int pki_scram_secret(const char *password, const unsigned char *salt, size_t salt_len, int iterations, char *out,
		     size_t outlen, pgr_err *err)
{
	unsigned char own_salt[16], salted[32], client_key[32], stored_key[32], server_key[32];
	char salt64[100], stored64[48], server64[48];
	unsigned int n = 0;
	int rc = -1, len;

	if (salt == NULL) {
		if (RAND_bytes(own_salt, sizeof(own_salt)) != 1)
			return ssl_fail(err, "could not draw a salt");
		salt = own_salt;
		salt_len = sizeof(own_salt);
	}
	if (salt_len == 0 || salt_len > 64 || iterations < 1)
		return pgr_err_set(err, "SCRAM: a salt of 1 to 64 bytes and at least one iteration");
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iterations, EVP_sha256(),
			      sizeof(salted), salted) != 1 ||
	    HMAC(EVP_sha256(), salted, sizeof(salted), (const unsigned char *)"Client Key", 10, client_key, &n) == NULL ||
	    EVP_Digest(client_key, sizeof(client_key), stored_key, &n, EVP_sha256(), NULL) != 1 ||
	    HMAC(EVP_sha256(), salted, sizeof(salted), (const unsigned char *)"Server Key", 10, server_key, &n) == NULL) {
		ssl_fail(err, "SCRAM");
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)salt64, salt, (int)salt_len);
	EVP_EncodeBlock((unsigned char *)stored64, stored_key, sizeof(stored_key));
	EVP_EncodeBlock((unsigned char *)server64, server_key, sizeof(server_key));
	len = snprintf(out, outlen, "SCRAM-SHA-256$%d:%s$%s:%s", iterations, salt64, stored64, server64);
	if (len < 0 || (size_t)len >= outlen) {
		pgr_err_set(err, "SCRAM: the secret does not fit in %zu bytes", outlen);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(server_key, sizeof(server_key));
	return rc;
}
