/*
 * pgrefresh — in-place rolling minor refresh of PostgreSQL HA clusters (Patroni + etcd + PgBouncer).
 * main() parses the common options, finds the command in the table (cli/cli.c), runs it, and
 * prints its error once: one line, then a hint line.
 */
#include <stdio.h>

#include "cli/cli.h"

int cli_main(int argc, char **argv);

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
