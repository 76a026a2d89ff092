#ifndef WSP_JWT_H
#define WSP_JWT_H
#endif
