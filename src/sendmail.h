/*
 * sendmail.h - the sendmail front end (sendmail.c), for main.c to
 * dispatch to when mx is called as sendmail, mailq or newaliases.
 */
#ifndef MX_SENDMAIL_H
#define MX_SENDMAIL_H

int cmd_sendmail(int argc, char **argv);

#endif
