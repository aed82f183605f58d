/*
 * pgrefresh — in-place rolling minor refresh of PostgreSQL HA clusters (Patroni + etcd + PgBouncer).
 * main() parses the common options, finds the command in the table (cli/cli.c), runs it, and
 * prints its error once: one line, then a hint line.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "patroni/patroni.h"

int cli_main(int argc, char **argv);

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], PATRONI_RESTART_ARG) == 0)
		return patroni_restart_main(argc, argv); /* the agent's restart, in a process of its own */
	return cli_main(argc, argv);
}
