// LTI Dynamic Registration 1.0, 3.7: tell the platform's page the registration is over.
(window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");
