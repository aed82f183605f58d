#include "util/http.h"

#include <curl/curl.h>
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

#define SETOPT(h, opt, val)                                                                                  \
	do {                                                                                                 \
		CURLcode setopt_rc = curl_easy_setopt((h), (opt), (val));                                    \
		if (setopt_rc != CURLE_OK) {                                                                 \
			pgr_err_set(err, "%s %s: curl option " #opt ": %s", method, url,                     \
				    curl_easy_strerror(setopt_rc));                                          \
			goto fail;                                                                           \
		}                                                                                            \
	} while (0)

int http_request(const char *method, const char *url, const char *body, long timeout_ms, http_reply *reply,
		 pgr_err *err)
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
	if (body != NULL) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		SETOPT(h, CURLOPT_HTTPHEADER, headers);
		SETOPT(h, CURLOPT_POSTFIELDS, body);
		SETOPT(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (buf.overflow)
			pgr_err_set(err, "%s %s: reply larger than %d bytes", method, url, HTTP_BODY_MAX);
		else
			pgr_err_set(err, "%s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
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
