#ifndef WSP_JUNIT_H
#define WSP_JUNIT_H
#endif
