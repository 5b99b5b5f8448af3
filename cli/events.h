/* Event rows shared by `proctrail events` and `proctrail binaries`. */
#ifndef PROCTRAIL_CLI_EVENTS_H
#define PROCTRAIL_CLI_EVENTS_H

#include <stdio.h>

#include "proctrail/jsonread.h"
#include "table.h"

/* The columns of an event table. */
int cli_event_cols(struct cli_table *t);
/* The ECS event at token ev as a row: added to t, or with stream printed at once. */
int cli_event_row(const struct pt_jr *d, int ev, struct cli_table *t, FILE *stream);

#endif
