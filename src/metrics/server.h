/*
 * server.h — serves an agent's metrics over HTTP (GET /metrics) through libmicrohttpd, in its own
 * thread. The agent's loop publishes the text once a tick (metrics_server_publish copies it under a
 * lock); a request only copies the last text out, so no request can block the loop, and the server
 * is bounded: a few connections at a time, each closed after a few seconds of silence.
 */
#ifndef PGR_METRICS_SERVER_H
#define PGR_METRICS_SERVER_H

#include "util/err.h"

#define METRICS_MAX_CONNECTIONS 8
#define METRICS_CONNECTION_TIMEOUT_S 5

/* A running server (owned by its starter: stop it with metrics_server_stop). */
typedef struct metrics_server metrics_server;

/* Listens on host:port (an IPv4 address) and answers GET /metrics from its own thread. */
int metrics_server_start(const char *host, int port, metrics_server **out, pgr_err *err)
	__attribute__((warn_unused_result));
/* Replaces the text served (copied). */
void metrics_server_publish(metrics_server *srv, const char *text);
/* Stops the thread, closes the socket, frees srv (NULL: nothing). */
void metrics_server_stop(metrics_server *srv);

#endif
