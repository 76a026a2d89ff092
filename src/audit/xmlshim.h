/* xmlshim.h - libxml2, loaded when first needed instead of at every start.
 *
 * Debian's libxml2 pulls in ICU and libstdc++: linking it costs every wsprobe process about
 * 1.5 ms of dynamic loading, a third of a whole probe, although only `audit` and the JUnit
 * writer use it. Modules that use libxml2 include this header instead of libxml's: the calls
 * they make are routed through a table filled by dlopen("libxml2.so.2") on wsp_xml_load().
 * Call wsp_xml_load() (and handle its failure) before the first libxml2 call. */
#ifndef WSP_XMLSHIM_H
#define WSP_XMLSHIM_H

#include <stdio.h>
#include <stdlib.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlwriter.h>

#define WSP_XML_FUNCTIONS(X)                                                                       \
    X(xmlFreeTextReader)                                                                           \
    X(xmlFreeTextWriter)                                                                           \
    X(xmlGetLineNo)                                                                                \
    X(xmlNewTextWriterFilename)                                                                    \
    X(xmlNodeListGetString)                                                                        \
    X(xmlReaderForIO)                                                                              \
    X(xmlReaderForMemory)                                                                          \
    X(xmlSetGenericErrorFunc)                                                                      \
    X(xmlTextReaderConstString)                                                                    \
    X(xmlTextReaderCurrentNode)                                                                    \
    X(xmlTextReaderIsEmptyElement)                                                                 \
    X(xmlTextReaderNext)                                                                           \
    X(xmlTextReaderNodeType)                                                                       \
    X(xmlTextReaderRead)                                                                           \
    X(xmlTextReaderSetStructuredErrorHandler)                                                      \
    X(xmlTextWriterEndDocument)                                                                    \
    X(xmlTextWriterEndElement)                                                                     \
    X(xmlTextWriterSetIndent)                                                                      \
    X(xmlTextWriterSetIndentString)                                                                \
    X(xmlTextWriterStartDocument)                                                                  \
    X(xmlTextWriterStartElement)                                                                   \
    X(xmlTextWriterWriteAttribute)                                                                 \
    X(xmlTextWriterWriteString)

#define WSP_XML_MEMBER(name) __typeof__(name) *name;
typedef struct wsp_xml_api {
    WSP_XML_FUNCTIONS(WSP_XML_MEMBER)
} wsp_xml_api;
#undef WSP_XML_MEMBER

/* Load libxml2 once (thread-safe). Returns 0, or -1 when it cannot be loaded; `why` (if not
 * NULL) then points at a static description. */
int wsp_xml_load(const char **why);

/* libxml2's version ("2.9.14"), loading it; NULL when it cannot be loaded. */
const char *wsp_xml_version(void);

/* The loaded table; only valid after wsp_xml_load returned 0. */
extern const wsp_xml_api *wsp_xml_fns;

#ifndef WSP_XMLSHIM_IMPL
#define xmlFreeTextReader (wsp_xml_fns->xmlFreeTextReader)
#define xmlFreeTextWriter (wsp_xml_fns->xmlFreeTextWriter)
#define xmlGetLineNo (wsp_xml_fns->xmlGetLineNo)
#define xmlNewTextWriterFilename (wsp_xml_fns->xmlNewTextWriterFilename)
#define xmlNodeListGetString (wsp_xml_fns->xmlNodeListGetString)
#define xmlReaderForIO (wsp_xml_fns->xmlReaderForIO)
#define xmlReaderForMemory (wsp_xml_fns->xmlReaderForMemory)
#define xmlSetGenericErrorFunc (wsp_xml_fns->xmlSetGenericErrorFunc)
#define xmlTextReaderConstString (wsp_xml_fns->xmlTextReaderConstString)
#define xmlTextReaderCurrentNode (wsp_xml_fns->xmlTextReaderCurrentNode)
#define xmlTextReaderIsEmptyElement (wsp_xml_fns->xmlTextReaderIsEmptyElement)
#define xmlTextReaderNext (wsp_xml_fns->xmlTextReaderNext)
#define xmlTextReaderNodeType (wsp_xml_fns->xmlTextReaderNodeType)
#define xmlTextReaderRead (wsp_xml_fns->xmlTextReaderRead)
#define xmlTextReaderSetStructuredErrorHandler (wsp_xml_fns->xmlTextReaderSetStructuredErrorHandler)
#define xmlTextWriterEndDocument (wsp_xml_fns->xmlTextWriterEndDocument)
#define xmlTextWriterEndElement (wsp_xml_fns->xmlTextWriterEndElement)
#define xmlTextWriterSetIndent (wsp_xml_fns->xmlTextWriterSetIndent)
#define xmlTextWriterSetIndentString (wsp_xml_fns->xmlTextWriterSetIndentString)
#define xmlTextWriterStartDocument (wsp_xml_fns->xmlTextWriterStartDocument)
#define xmlTextWriterStartElement (wsp_xml_fns->xmlTextWriterStartElement)
#define xmlTextWriterWriteAttribute (wsp_xml_fns->xmlTextWriterWriteAttribute)
#define xmlTextWriterWriteString (wsp_xml_fns->xmlTextWriterWriteString)
/* libxml2 allocates with xmlMalloc, which is malloc unless xmlMemSetup changed it (never here) */
#undef xmlFree
#define xmlFree free
#endif

#endif
