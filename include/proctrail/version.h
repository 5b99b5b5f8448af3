#ifndef PROCTRAIL_VERSION_H
#define PROCTRAIL_VERSION_H
/* The one version string: HELLO and WELCOME carry it, and every program's --version prints it. */
#define PROCTRAIL_VERSION "0.1.0"
#endif
