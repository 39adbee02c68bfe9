#include <Python.h>
/* a deliberate syntax error: wheelship must show this in the build log tail */
static int broken( { return 0; }
