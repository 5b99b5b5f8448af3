#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: proctrail [--help]\n");
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
