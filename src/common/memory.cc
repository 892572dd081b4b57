#include "common/memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace vigil {

void ReturnFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace vigil
