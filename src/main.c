/*
 * pgrefresh — in-place rolling minor refresh of PostgreSQL HA clusters (Patroni + etcd + PgBouncer).
 * main() hands the command line to the command tree (cli/cli.c): it parses it, runs the command and
 * prints its error once: one line, then a hint line.
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
