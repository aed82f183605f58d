/*
 * pgrefresh — in-place rolling minor refresh of PostgreSQL HA clusters (Patroni + etcd + PgBouncer).
 * main() hands the command line to the command tree (cli/cli.c): it parses it, runs the command and
 * prints its error once: one line, then a hint line.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "patroni/patroni.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], PATRONI_RESTART_ARG) == 0)
		return patroni_restart_main(argc, argv); /* the agent's restart, in a process of its own */
	return cli_main(argc, argv);
}
