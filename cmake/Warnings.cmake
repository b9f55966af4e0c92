# autosync::warnings: an INTERFACE target our own targets link PRIVATE, so generated and
# third-party code is never compiled with these flags.
add_library(autosync_warnings INTERFACE)
add_library(autosync::warnings ALIAS autosync_warnings)
target_compile_options(autosync_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  $<$<BOOL:${AUTOSYNC_WERROR}>:-Werror>)
