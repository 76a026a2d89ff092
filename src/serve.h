/* serve.h - the reference server. */
#ifndef WSP_SERVE_H
#define WSP_SERVE_H
#endif
