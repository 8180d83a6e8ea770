#include "mgmt/web/sessions.h"
