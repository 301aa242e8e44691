#ifndef OPENMM_CGMLJSON_H_
#define OPENMM_CGMLJSON_H_

#include "internal/windowsExportCGML.h"
#include <string>
#include <utility>
#include <vector>

namespace CGMLPlugin {

/**
 * A parsed JSON value (RFC 8259), enough to read a bundle's metadata.json: objects keep their
 * members in order, numbers are doubles, strings are UTF-8 with escapes decoded.
 */
class OPENMM_EXPORT_CGML CGMLJson {
public:
    enum Kind {Null, Bool, Number, String, Array, Object};
    /**
     * Parse JSON text.  Throws OpenMMException naming `what` and the byte offset of the first error.
     */
    static CGMLJson parse(const std::string& text, const std::string& what);
    /** The member `key` of an object, or NULL (also when this is not an object). */
    const CGMLJson* find(const std::string& key) const;
    Kind kind = Null;
    bool boolean = false;
    double number = 0;
    std::string text;
    std::vector<CGMLJson> items;
    std::vector<std::pair<std::string, CGMLJson> > members;
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLJSON_H_*/
