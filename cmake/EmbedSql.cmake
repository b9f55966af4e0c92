# cmake -DOUT=<file.cc> -DFILES=<a.sql|b.sql> -P EmbedSql.cmake
# Writes a C++ source defining autosync::common::EmbeddedMigrations(): each numbered migration
# file (NNNN_name.sql) as {version, name, sql}, in version order.
string(REPLACE "|" ";" files "${FILES}")
list(SORT files)
set(body "")
foreach(f ${files})
  get_filename_component(name ${f} NAME_WE)
  string(REGEX MATCH "^([0-9]+)_(.*)$" matched "${name}")
  if(NOT matched)
    message(FATAL_ERROR "migration file ${f} is not named NNNN_name.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  set(label "${CMAKE_MATCH_2}")
  file(READ ${f} sql)
  string(APPEND body "      {${version}, \"${label}\", R\"autosync_sql(${sql})autosync_sql\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from common/migrations/*.sql by cmake/EmbedSql.cmake. Do not edit.
#include \"common/migrations.h\"

namespace autosync::common {

const std::vector<Migration>& EmbeddedMigrations() {
  static const std::vector<Migration>* migrations = new std::vector<Migration>{
${body}  };
  return *migrations;
}

}  // namespace autosync::common
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
