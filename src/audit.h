#ifndef WSP_AUDIT_H
#define WSP_AUDIT_H
#endif
