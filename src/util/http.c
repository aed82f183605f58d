#include "util/http.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A growable, bounded receive buffer. */
struct recv_buf {
	char *data;
	size_t len;
	size_t cap;
	int overflow;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct recv_buf *buf = userdata;
	size_t n = size * nmemb;

	if (buf->len + n + 1 > HTTP_BODY_MAX) {
		buf->overflow = 1;
		return 0;
	}
	if (buf->len + n + 1 > buf->cap) {
		size_t cap = buf->cap ? buf->cap : 4096;
		char *grown;

		while (cap < buf->len + n + 1)
			cap *= 2;
		grown = realloc(buf->data, cap);
		if (grown == NULL)
			return 0;
		buf->data = grown;
		buf->cap = cap;
	}
	memcpy(buf->data + buf->len, ptr, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
	return n;
}

int http_global_init(pgr_err *err)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		return pgr_err_set(err, "could not initialise libcurl: %s", curl_easy_strerror(rc));
	return 0;
}

void http_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Appends line to *headers; false when out of memory (*headers is kept). */
static bool append_header(struct curl_slist **headers, const char *line)
{
	struct curl_slist *grown = curl_slist_append(*headers, line);

	if (grown == NULL)
		return false;
	*headers = grown;
	return true;
}

#define SETOPT(h, opt, val)                                                                                  \
	do {                                                                                                 \
		CURLcode setopt_rc = curl_easy_setopt((h), (opt), (val));                                    \
		if (setopt_rc != CURLE_OK) {                                                                 \
			pgr_err_set(err, "%s %s: curl option " #opt ": %s", method, url,                     \
				    curl_easy_strerror(setopt_rc));                                          \
			goto fail;                                                                           \
		}                                                                                            \
	} while (0)

http_failure http_failure_of(int curl_code, bool https, bool tls_configured)
{
	switch (curl_code) {
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return HTTP_FAIL_TLS;
	case CURLE_OK:
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return HTTP_FAIL_TRANSPORT;
	default:
		/* a server refusing the client certificate resets the connection: the client sees a send or
		 * receive failure, during the handshake or (TLS 1.3) at the first request */
		return https && tls_configured ? HTTP_FAIL_TLS : HTTP_FAIL_TRANSPORT;
	}
}

bool http_err_tls(const pgr_err *err)
{
	return err != NULL && strstr(err->msg, ": " HTTP_TLS_TEXT ": ") != NULL;
}

/* The cause of a failed transfer, naming the TLS file concerned when it is one. */
static void transfer_error(const char *method, const char *url, CURLcode rc, const char *errbuf,
			   const http_opts *opts, pgr_err *err)
{
	const char *cause = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	const char *ca = opts != NULL && opts->ca_file != NULL ? opts->ca_file : "(the system's CAs)";
	bool configured = opts != NULL && (opts->ca_file != NULL || opts->cert_file != NULL);

	switch (rc) {
	case CURLE_SSL_CACERT_BADFILE:
		pgr_err_set(err, "%s %s: " HTTP_TLS_TEXT ": CA file %s unreadable: %s", method, url, ca, cause);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		pgr_err_set(err, "%s %s: " HTTP_TLS_TEXT ": server certificate not trusted by CA file %s: %s", method, url,
			    ca, cause);
		break;
	case CURLE_SSL_CERTPROBLEM:
		pgr_err_set(err, "%s %s: " HTTP_TLS_TEXT ": client certificate %s or key %s unusable: %s", method, url,
			    opts != NULL && opts->cert_file ? opts->cert_file : "(none)",
			    opts != NULL && opts->key_file ? opts->key_file : "(none)", cause);
		break;
	default:
		if (http_failure_of((int)rc, strncmp(url, "https://", 8) == 0, configured) == HTTP_FAIL_TLS)
			pgr_err_set(err, "%s %s: " HTTP_TLS_TEXT ": handshake failed (client certificate %s rejected?): %s (curl %d)",
				    method, url, opts != NULL && opts->cert_file ? opts->cert_file : "(none)", cause, (int)rc);
		else
			pgr_err_set(err, "%s %s: %s", method, url, cause);
	}
}

int http_request(const char *method, const char *url, const char *body, long timeout_ms, http_reply *reply,
		 pgr_err *err)
{
	return http_request_opts(method, url, body, timeout_ms, NULL, reply, err);
}

int http_request_opts(const char *method, const char *url, const char *body, long timeout_ms, const http_opts *opts,
		      http_reply *reply, pgr_err *err)
{
	CURL *h;
	struct curl_slist *headers = NULL;
	struct recv_buf buf = { 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	memset(reply, 0, sizeof(*reply));
	h = curl_easy_init();
	if (h == NULL)
		return pgr_err_set(err, "%s %s: could not create a curl handle", method, url);

	SETOPT(h, CURLOPT_URL, url);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 2000 ? timeout_ms : 2000L);
	SETOPT(h, CURLOPT_WRITEFUNCTION, on_data);
	SETOPT(h, CURLOPT_WRITEDATA, &buf);
	SETOPT(h, CURLOPT_CUSTOMREQUEST, method);
	SETOPT(h, CURLOPT_PROXY, "");
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (opts != NULL) {
		if (opts->ca_file != NULL)
			SETOPT(h, CURLOPT_CAINFO, opts->ca_file);
		if (opts->cert_file != NULL)
			SETOPT(h, CURLOPT_SSLCERT, opts->cert_file);
		if (opts->key_file != NULL)
			SETOPT(h, CURLOPT_SSLKEY, opts->key_file);
		if (opts->basic_user != NULL) {
			SETOPT(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			SETOPT(h, CURLOPT_USERNAME, opts->basic_user);
			SETOPT(h, CURLOPT_PASSWORD, opts->basic_password ? opts->basic_password : "");
		}
		if (opts->auth_header != NULL && !append_header(&headers, opts->auth_header)) {
			pgr_err_set(err, "%s %s: out of memory", method, url);
			goto fail;
		}
	}
	if (body != NULL && !append_header(&headers, "Content-Type: application/json")) {
		pgr_err_set(err, "%s %s: out of memory", method, url);
		goto fail;
	}
	if (headers != NULL)
		SETOPT(h, CURLOPT_HTTPHEADER, headers);
	if (body != NULL) {
		SETOPT(h, CURLOPT_POSTFIELDS, body);
		SETOPT(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (buf.overflow)
			pgr_err_set(err, "%s %s: reply larger than %d bytes", method, url, HTTP_BODY_MAX);
		else
			transfer_error(method, url, rc, errbuf, opts, err);
		goto fail;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply->status);
	if (buf.data == NULL) {
		buf.data = calloc(1, 1);
		if (buf.data == NULL) {
			pgr_err_set(err, "%s %s: out of memory", method, url);
			goto fail;
		}
	}
	reply->body = buf.data;
	reply->body_len = buf.len;
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	return 0;

fail:
	free(buf.data);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	return -1;
}

void http_reply_free(http_reply *reply)
{
	if (reply == NULL)
		return;
	free(reply->body);
	reply->body = NULL;
	reply->body_len = 0;
}
