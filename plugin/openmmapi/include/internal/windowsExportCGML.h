#ifndef OPENMM_WINDOWSEXPORTCGML_H_
#define OPENMM_WINDOWSEXPORTCGML_H_

/*
 * Shared libraries are messy in Visual Studio: symbols are exported only when asked for.
 * Elsewhere the default visibility is enough.
 */
#if defined(_MSC_VER)
    #if defined(OPENMM_CGML_BUILDING_SHARED_LIBRARY)
        #define OPENMM_EXPORT_CGML __declspec(dllexport)
    #else
        #define OPENMM_EXPORT_CGML __declspec(dllimport)
    #endif
#else
    #define OPENMM_EXPORT_CGML __attribute__((visibility("default")))
#endif

#endif /*OPENMM_WINDOWSEXPORTCGML_H_*/
