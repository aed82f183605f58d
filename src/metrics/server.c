#include "metrics/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_server {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;
	char *text; /* the last text published, heap; under lock */
};

static enum MHD_Result answer(struct MHD_Response *response, struct MHD_Connection *conn, unsigned int status)
{
	enum MHD_Result r;

	if (response == NULL)
		return MHD_NO;
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, status == MHD_HTTP_OK ? CONTENT_TYPE : "text/plain");
	r = MHD_queue_response(conn, status, response);
	MHD_destroy_response(response);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
	metrics_server *srv = cls;
	static const char not_found[] = "not found: try /metrics\n";
	static const char bad_method[] = "only GET and HEAD\n";
	char *copy;
	size_t len;

	(void)version;
	(void)upload_data;
	if (*state == NULL) {
		*state = srv; /* the headers: answer once the (empty) body is in */
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0; /* a body is ignored */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer(MHD_create_response_from_buffer(sizeof(bad_method) - 1, (void *)bad_method,
							      MHD_RESPMEM_PERSISTENT),
			      conn, MHD_HTTP_METHOD_NOT_ALLOWED);
	if (strcmp(url, "/metrics") != 0)
		return answer(MHD_create_response_from_buffer(sizeof(not_found) - 1, (void *)not_found,
							      MHD_RESPMEM_PERSISTENT),
			      conn, MHD_HTTP_NOT_FOUND);
	pthread_mutex_lock(&srv->lock);
	copy = strdup(srv->text ? srv->text : "");
	pthread_mutex_unlock(&srv->lock);
	if (copy == NULL)
		return MHD_NO;
	len = strlen(copy);
	return answer(MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE), conn, MHD_HTTP_OK);
}

int metrics_server_start(const char *host, int port, metrics_server **out, pgr_err *err)
{
	metrics_server *srv;
	struct sockaddr_in addr;

	*out = NULL;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		return pgr_err_set(err, "metrics: cannot listen on %s:%d (an IPv4 address and a port)", host, port);
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return pgr_err_set(err, "metrics: out of memory");
	pthread_mutex_init(&srv->lock, NULL);
	srv->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, (uint16_t)port, NULL, NULL,
				       on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				       MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_MAX_CONNECTIONS,
				       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_CONNECTION_TIMEOUT_S,
				       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
	if (srv->daemon == NULL) {
		pthread_mutex_destroy(&srv->lock);
		free(srv);
		return pgr_err_set(err, "metrics: cannot listen on %s:%d (in use?)", host, port);
	}
	*out = srv;
	return 0;
}

void metrics_server_publish(metrics_server *srv, const char *text)
{
	char *copy = strdup(text);

	if (copy == NULL)
		return; /* the last text stays */
	pthread_mutex_lock(&srv->lock);
	free(srv->text);
	srv->text = copy;
	pthread_mutex_unlock(&srv->lock);
}

void metrics_server_stop(metrics_server *srv)
{
	if (srv == NULL)
		return;
	MHD_stop_daemon(srv->daemon);
	pthread_mutex_destroy(&srv->lock);
	free(srv->text);
	free(srv);
}
