#include "api-int.h"
void api_tree(struct pt_api *a, struct evhttp_request *req, const char *entity) { (void)a; (void)entity; api_error(req, 404, "not yet"); }
void api_binaries(struct pt_api *a, struct evhttp_request *req) { (void)a; api_error(req, 404, "not yet"); }
void api_binary_one(struct pt_api *a, struct evhttp_request *req, const char *sha) { (void)a; (void)sha; api_error(req, 404, "not yet"); }
void api_agents(struct pt_api *a, struct evhttp_request *req) { (void)a; api_error(req, 404, "not yet"); }
